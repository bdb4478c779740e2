//! Spawns and joins children through a `TaskGroup` in a loop, for profiling `group` (perf record).

fn main() {
    let rt = weft::Runtime::new().unwrap();
    rt.block_on(async {
        for _ in 0..20 {
            let mut group = weft::task::TaskGroup::new();
            for i in 0..100_000usize {
                group.spawn(async move { i });
            }
            let mut sum = 0usize;
            while let Some(result) = group.join_next().await {
                sum = sum.wrapping_add(result.unwrap());
            }
            std::hint::black_box(sum);
        }
    });
}
