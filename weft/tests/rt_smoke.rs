use std::time::Duration;

#[test]
fn smoke() {
    let v = weft::run(async {
        let t = weft::spawn(async { 1 + 1 });
        let s = weft::spawn(async {
            weft::time::sleep(Duration::from_millis(30)).await;
            5
        });
        let b = weft::spawn_blocking(|| 7);
        let (x, y) = weft::join!(async { 1 }, async { 2 });
        t.await.unwrap() + s.await.unwrap() + b.await.unwrap() + x + y
    });
    assert_eq!(v, 17);
}
