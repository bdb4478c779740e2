use weft::net::{TcpListener, TcpStream};

#[test]
fn echo_200_connections() {
    weft::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        weft::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                weft::spawn(async move {
                    let mut buf = vec![0; 4096];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..200)
            .map(|i| {
                weft::spawn(async move {
                    let stream = TcpStream::connect(address).await.unwrap();
                    for round in 0..20 {
                        let msg = vec![(i + round) as u8; 100 + i * 7];
                        stream.write_all(&msg).await.unwrap();
                        let mut back = vec![0; msg.len()];
                        stream.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg);
                    }
                })
            })
            .collect();
        for c in weft::join_all(clients).await {
            c.unwrap();
        }
    });
}
