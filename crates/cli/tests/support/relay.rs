//! A UDP relay in the server namespace that the test controls: it forwards
//! between the client and the real server, can drop packets, and can inject
//! malformed packets towards the client from the address the client trusts.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Handle to a running relay; stops it on drop.
pub struct Relay {
    /// Address the client connects to.
    pub listen: SocketAddr,
    /// The client's address, once it sent something.
    client: Arc<Mutex<Option<SocketAddr>>>,
    /// The relay's client-facing socket, for injecting packets.
    socket: Arc<UdpSocket>,
    /// Set to stop the forwarding threads.
    stop: Arc<AtomicBool>,
    /// Drop one packet in this many (0 = never), in both directions.
    pub drop_one_in: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Starts a relay listening on `listen` and forwarding to `server`, in the calling thread's namespace.
    pub fn start(listen: SocketAddr, server: SocketAddr) -> Relay {
        let front =
            Arc::new(UdpSocket::bind(listen).expect("relay: bind the client-facing socket"));
        let back =
            Arc::new(UdpSocket::bind("0.0.0.0:0").expect("relay: bind the server-facing socket"));
        back.connect(server).expect("relay: connect to the server");
        front
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        back.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();

        let client = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let drop_one_in = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();

        {
            let (front, back, client, stop, drop_one_in) = (
                front.clone(),
                back.clone(),
                client.clone(),
                stop.clone(),
                drop_one_in.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut buffer = vec![0u8; 65_536];
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let Ok((len, from)) = front.recv_from(&mut buffer) else {
                        continue;
                    };
                    *client.lock().unwrap() = Some(from);
                    count += 1;
                    let every = drop_one_in.load(Ordering::Relaxed);
                    if every != 0 && count % every == 0 {
                        continue;
                    }
                    let _ = back.send(&buffer[..len]);
                }
            }));
        }
        {
            let (front, back, client, stop, drop_one_in) = (
                front.clone(),
                back.clone(),
                client.clone(),
                stop.clone(),
                drop_one_in.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut buffer = vec![0u8; 65_536];
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(len) = back.recv(&mut buffer) else {
                        continue;
                    };
                    let Some(to) = *client.lock().unwrap() else {
                        continue;
                    };
                    count += 1;
                    let every = drop_one_in.load(Ordering::Relaxed);
                    if every != 0 && count % every == 0 {
                        continue;
                    }
                    let _ = front.send_to(&buffer[..len], to);
                }
            }));
        }

        Relay {
            listen,
            client,
            socket: front,
            stop,
            drop_one_in,
            threads,
        }
    }

    /// Sends `packet` to the client as if it came from the server; false before the client spoke.
    pub fn inject(&self, packet: &[u8]) -> bool {
        let Some(to) = *self.client.lock().unwrap() else {
            return false;
        };
        self.socket.send_to(packet, to).is_ok()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
