//! TUN device and rtnetlink configuration against the real kernel.
//!
//! Every test runs in a thread that first moves into a network namespace of its own, so the
//! devices, addresses and routes it creates never touch the host's network. Sockets belong to
//! the namespace of the thread that creates them, so the TUN device, the configurator and the
//! test's own rtnetlink handle are all created on that thread. These tests need root (or
//! CAP_SYS_ADMIN and CAP_NET_ADMIN) and fail, never skip, without it.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use ferrovpn_provider::netlink::{NetlinkError, NetworkConfigurator, Operation};
use ferrovpn_provider::network_settings::{
    Ipv4Settings, Ipv6Settings, RouteV4, RouteV6, TunnelNetworkSettings,
};
use ferrovpn_provider::tun::{Tun, TunError};
use futures::TryStreamExt;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{LinkAttribute, LinkFlag, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteScope};
use rtnetlink::{Handle, IpVersion};

/// Upper bound for one test body, so a stuck read fails the test instead of hanging it.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `test` on a current-thread tokio runtime in a thread inside a new network namespace.
fn in_private_netns<F, Fut>(test: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare(2) only changes the namespaces of the calling thread.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            panic!(
                "unshare(CLONE_NEWNET) failed: {error}; these tests need root \
                 (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create a private network namespace"
            );
        }

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a current-thread tokio runtime failed");
        runtime.block_on(async move {
            let outcome = tokio::time::timeout(TEST_TIMEOUT, test()).await;
            assert!(
                outcome.is_ok(),
                "test did not finish within {TEST_TIMEOUT:?}"
            );
        });
    });

    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Opens an rtnetlink connection in the current thread's namespace for inspecting state.
fn inspector() -> Handle {
    let (connection, handle, _multicast) =
        rtnetlink::new_connection().expect("opening an rtnetlink socket failed");
    tokio::spawn(connection);
    handle
}

fn configurator() -> NetworkConfigurator {
    NetworkConfigurator::new().expect("creating the network configurator failed")
}

fn create_tun() -> Tun {
    Tun::create(None).expect("creating a TUN device failed")
}

async fn dump_links(handle: &Handle) -> Vec<LinkMessage> {
    let dump = handle.link().get().execute();
    dump.try_collect().await.expect("dumping links failed")
}

async fn dump_link(handle: &Handle, index: u32) -> LinkMessage {
    let all = dump_links(handle).await;
    let found = all.into_iter().find(|link| link.header.index == index);
    found.unwrap_or_else(|| panic!("no link with index {index}"))
}

fn mtu(link: &LinkMessage) -> Option<u32> {
    link.attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::Mtu(mtu) => Some(*mtu),
            _ => None,
        })
}

/// One address of an interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AddressEntry {
    /// IFA_LOCAL, present on IPv4 addresses and on IPv6 point-to-point addresses.
    local: Option<IpAddr>,
    /// IFA_ADDRESS: the peer on a point-to-point address, otherwise the local address.
    address: Option<IpAddr>,
    /// Prefix length.
    prefix_len: u8,
}

async fn dump_addresses(handle: &Handle, index: u32) -> Vec<AddressEntry> {
    let dump = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    let messages: Vec<_> = dump.try_collect().await.expect("dumping addresses failed");

    let mut entries = Vec::new();
    for message in messages {
        let mut entry = AddressEntry {
            local: None,
            address: None,
            prefix_len: 0,
        };
        entry.prefix_len = message.header.prefix_len;
        for attribute in message.attributes {
            match attribute {
                AddressAttribute::Local(local) => entry.local = Some(local),
                AddressAttribute::Address(address) => entry.address = Some(address),
                _ => {}
            }
        }
        entries.push(entry);
    }
    entries
}

/// One route of the main table as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RouteEntry {
    /// Destination network, or `None` for a default route.
    destination: Option<IpAddr>,
    /// Destination prefix length.
    prefix_len: u8,
    /// Next hop, if any.
    gateway: Option<IpAddr>,
    /// Output interface index.
    oif: Option<u32>,
    /// Metric, if the kernel reports one.
    priority: Option<u32>,
}

async fn dump_routes(handle: &Handle, version: IpVersion) -> Vec<RouteEntry> {
    let dump = handle.route().get(version).execute();
    let messages: Vec<_> = dump.try_collect().await.expect("dumping routes failed");

    let mut entries = Vec::new();
    for message in messages {
        if message.header.table != RouteHeader::RT_TABLE_MAIN {
            continue;
        }
        let mut entry = RouteEntry {
            destination: None,
            prefix_len: message.header.destination_prefix_length,
            gateway: None,
            oif: None,
            priority: None,
        };
        for attribute in message.attributes {
            match attribute {
                RouteAttribute::Destination(address) => entry.destination = ip(address),
                RouteAttribute::Gateway(address) => entry.gateway = ip(address),
                RouteAttribute::Oif(oif) => entry.oif = Some(oif),
                RouteAttribute::Priority(priority) => entry.priority = Some(priority),
                _ => {}
            }
        }
        entries.push(entry);
    }
    entries
}

fn ip(address: RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(v6)),
        _ => None,
    }
}

fn find_route(routes: &[RouteEntry], destination: IpAddr, prefix_len: u8) -> Option<RouteEntry> {
    let matching = routes
        .iter()
        .find(|route| route.destination == Some(destination) && route.prefix_len == prefix_len);
    matching.cloned()
}

fn subnet_settings() -> TunnelNetworkSettings {
    TunnelNetworkSettings {
        mtu: 1400,
        ipv4: Some(Ipv4Settings {
            address: Ipv4Addr::new(198, 19, 0, 2),
            prefix_len: 16,
            peer: None,
        }),
        ipv6: None,
        routes_v4: vec![
            RouteV4 {
                destination: Ipv4Addr::new(198, 18, 64, 0),
                prefix_len: 20,
                gateway: Some(Ipv4Addr::new(198, 19, 0, 1)),
                metric: Some(10),
            },
            RouteV4 {
                destination: Ipv4Addr::new(198, 18, 128, 0),
                prefix_len: 24,
                gateway: None,
                metric: None,
            },
        ],
        routes_v6: vec![],
        dns_servers: vec![IpAddr::V4(Ipv4Addr::new(198, 19, 0, 1))],
        search_domains: vec!["vpn.example".to_owned()],
    }
}

#[test]
fn create_without_name_uses_template() {
    in_private_netns(|| async {
        let tun = create_tun();
        let inspector = inspector();

        let link = dump_link(&inspector, tun.index()).await;
        let name = link
            .attributes
            .iter()
            .find_map(|attribute| match attribute {
                LinkAttribute::IfName(name) => Some(name.clone()),
                _ => None,
            });

        assert_eq!(tun.name(), "ferrovpn0", "first device in a fresh namespace");
        assert_eq!(
            name.as_deref(),
            Some("ferrovpn0"),
            "kernel name of the device"
        );
    });
}

#[test]
fn create_busy_name_reports_device() {
    in_private_netns(|| async {
        let _first = Tun::create(Some("fvpntest0")).expect("creating fvpntest0 failed");

        let second = Tun::create(Some("fvpntest0"));

        let message = match second {
            Err(error @ TunError::Create { .. }) => error.to_string(),
            other => panic!("expected a Create error for a busy device, got {other:?}"),
        };
        assert_eq!(
            message,
            "creating TUN device \"fvpntest0\" failed: Device or resource busy (os error 16); \
             the device is already open on another file descriptor"
        );
    });
}

#[test]
fn apply_subnet_then_remove() {
    in_private_netns(|| async {
        let tun = create_tun();
        let mut configurator = configurator();
        let inspector = inspector();
        let settings = subnet_settings();

        let applied = configurator
            .apply(&tun, &settings)
            .await
            .expect("apply failed");

        let link = dump_link(&inspector, tun.index()).await;
        let addresses = dump_addresses(&inspector, tun.index()).await;
        let routes = dump_routes(&inspector, IpVersion::V4).await;
        let expected_address = AddressEntry {
            local: Some(IpAddr::V4(Ipv4Addr::new(198, 19, 0, 2))),
            address: Some(IpAddr::V4(Ipv4Addr::new(198, 19, 0, 2))),
            prefix_len: 16,
        };
        let gateway_route = find_route(&routes, Ipv4Addr::new(198, 18, 64, 0).into(), 20);
        let link_route = find_route(&routes, Ipv4Addr::new(198, 18, 128, 0).into(), 24);

        assert_eq!(mtu(&link), Some(1400), "MTU after apply");
        assert!(
            link.header.flags.contains(&LinkFlag::Up),
            "link is not up after apply"
        );
        assert!(
            addresses.contains(&expected_address),
            "address 198.19.0.2/16 missing after apply: {addresses:?}"
        );
        assert_eq!(
            gateway_route,
            Some(RouteEntry {
                destination: Some(Ipv4Addr::new(198, 18, 64, 0).into()),
                prefix_len: 20,
                gateway: Some(Ipv4Addr::new(198, 19, 0, 1).into()),
                oif: Some(tun.index()),
                priority: Some(10),
            }),
            "route 198.18.64.0/20 via 198.19.0.1 metric 10"
        );
        assert_eq!(
            link_route.as_ref().and_then(|route| route.oif),
            Some(tun.index()),
            "output interface of route 198.18.128.0/24"
        );
        assert_eq!(
            applied.routes_v4(),
            &settings.routes_v4[..],
            "recorded IPv4 routes"
        );

        configurator.remove(applied).await;

        let addresses = dump_addresses(&inspector, tun.index()).await;
        let routes = dump_routes(&inspector, IpVersion::V4).await;
        let gateway_route = find_route(&routes, Ipv4Addr::new(198, 18, 64, 0).into(), 20);
        let link_route = find_route(&routes, Ipv4Addr::new(198, 18, 128, 0).into(), 24);
        let connected_route = find_route(&routes, Ipv4Addr::new(198, 19, 0, 0).into(), 16);

        assert!(
            !addresses.contains(&expected_address),
            "address 198.19.0.2/16 still present after remove"
        );
        assert_eq!(gateway_route, None, "route 198.18.64.0/20 after remove");
        assert_eq!(link_route, None, "route 198.18.128.0/24 after remove");
        assert_eq!(
            connected_route, None,
            "connected route 198.19.0.0/16 after remove"
        );
    });
}

#[test]
fn apply_net30_sets_peer_address() {
    in_private_netns(|| async {
        let tun = create_tun();
        let mut configurator = configurator();
        let inspector = inspector();
        let local = Ipv4Addr::new(198, 18, 0, 6);
        let peer = Ipv4Addr::new(198, 18, 0, 5);
        let settings = TunnelNetworkSettings {
            mtu: 1500,
            ipv4: Some(Ipv4Settings {
                address: local,
                prefix_len: 32,
                peer: Some(peer),
            }),
            ipv6: None,
            routes_v4: vec![RouteV4 {
                destination: Ipv4Addr::new(198, 18, 0, 1),
                prefix_len: 32,
                gateway: Some(peer),
                metric: None,
            }],
            routes_v6: vec![],
            dns_servers: vec![],
            search_domains: vec![],
        };

        let applied = configurator
            .apply(&tun, &settings)
            .await
            .expect("apply failed");

        let addresses = dump_addresses(&inspector, tun.index()).await;
        let routes = dump_routes(&inspector, IpVersion::V4).await;
        let expected_address = AddressEntry {
            local: Some(IpAddr::V4(local)),
            address: Some(IpAddr::V4(peer)),
            prefix_len: 32,
        };
        let server_route = find_route(&routes, Ipv4Addr::new(198, 18, 0, 1).into(), 32);

        assert!(
            addresses.contains(&expected_address),
            "address 198.18.0.6 peer 198.18.0.5/32 missing after apply: {addresses:?}"
        );
        assert_eq!(
            server_route.as_ref().and_then(|route| route.gateway),
            Some(IpAddr::V4(peer)),
            "gateway of route 198.18.0.1/32"
        );

        configurator.remove(applied).await;

        let addresses = dump_addresses(&inspector, tun.index()).await;
        let routes = dump_routes(&inspector, IpVersion::V4).await;
        let server_route = find_route(&routes, Ipv4Addr::new(198, 18, 0, 1).into(), 32);
        let peer_route = find_route(&routes, peer.into(), 32);

        assert!(
            !addresses.contains(&expected_address),
            "address 198.18.0.6 peer 198.18.0.5/32 still present after remove"
        );
        assert_eq!(server_route, None, "route 198.18.0.1/32 after remove");
        assert_eq!(peer_route, None, "peer route 198.18.0.5/32 after remove");
    });
}

#[test]
fn apply_ipv6_then_remove() {
    in_private_netns(|| async {
        let tun = create_tun();
        let mut configurator = configurator();
        let inspector = inspector();
        let address: Ipv6Addr = "fd00:1::2".parse().unwrap();
        let gateway: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let via_gateway: Ipv6Addr = "fd00:5::".parse().unwrap();
        let on_link: Ipv6Addr = "fd00:6::".parse().unwrap();
        let settings = TunnelNetworkSettings {
            mtu: 1500,
            ipv4: None,
            ipv6: Some(Ipv6Settings {
                address,
                prefix_len: 64,
            }),
            routes_v4: vec![],
            routes_v6: vec![
                RouteV6 {
                    destination: via_gateway,
                    prefix_len: 64,
                    gateway: Some(gateway),
                    metric: Some(20),
                },
                RouteV6 {
                    destination: on_link,
                    prefix_len: 48,
                    gateway: None,
                    metric: None,
                },
            ],
            dns_servers: vec![IpAddr::V6(gateway)],
            search_domains: vec![],
        };

        let applied = configurator
            .apply(&tun, &settings)
            .await
            .expect("apply failed");

        let addresses = dump_addresses(&inspector, tun.index()).await;
        let routes = dump_routes(&inspector, IpVersion::V6).await;
        let has_address = addresses
            .iter()
            .any(|entry| entry.address == Some(IpAddr::V6(address)) && entry.prefix_len == 64);
        let gateway_route = find_route(&routes, via_gateway.into(), 64);
        let link_route = find_route(&routes, on_link.into(), 48);

        assert!(
            has_address,
            "address fd00:1::2/64 missing after apply: {addresses:?}"
        );
        assert_eq!(
            gateway_route.as_ref().and_then(|route| route.gateway),
            Some(IpAddr::V6(gateway)),
            "gateway of route fd00:5::/64"
        );
        assert_eq!(
            gateway_route.as_ref().and_then(|route| route.priority),
            Some(20),
            "metric of route fd00:5::/64"
        );
        assert_eq!(
            link_route.as_ref().and_then(|route| route.oif),
            Some(tun.index()),
            "output interface of route fd00:6::/48"
        );

        configurator.remove(applied).await;

        let addresses = dump_addresses(&inspector, tun.index()).await;
        let routes = dump_routes(&inspector, IpVersion::V6).await;
        let has_address = addresses
            .iter()
            .any(|entry| entry.address == Some(IpAddr::V6(address)));

        assert!(!has_address, "address fd00:1::2 still present after remove");
        assert_eq!(
            find_route(&routes, via_gateway.into(), 64),
            None,
            "fd00:5::/64 after remove"
        );
        assert_eq!(
            find_route(&routes, on_link.into(), 48),
            None,
            "fd00:6::/48 after remove"
        );
    });
}

#[test]
fn route_conflict_error_and_rollback() {
    in_private_netns(|| async {
        let tun = create_tun();
        let mut configurator = configurator();
        let inspector = inspector();
        let loopback = 1;

        // An existing route to the same destination, on another interface, conflicts.
        inspector
            .link()
            .set(loopback)
            .up()
            .execute()
            .await
            .expect("setting lo up failed");
        inspector
            .route()
            .add()
            .v4()
            .destination_prefix(Ipv4Addr::new(198, 19, 5, 0), 24)
            .output_interface(loopback)
            .scope(RouteScope::Link)
            .execute()
            .await
            .expect("adding the conflicting route on lo failed");
        let mut settings = subnet_settings();
        settings.routes_v4.push(RouteV4 {
            destination: Ipv4Addr::new(198, 19, 5, 0),
            prefix_len: 24,
            gateway: Some(Ipv4Addr::new(198, 19, 0, 1)),
            metric: None,
        });

        let result = configurator.apply(&tun, &settings).await;

        let (message, operation) = match result {
            Err(error @ NetlinkError::Request { .. }) => {
                let NetlinkError::Request { operation, .. } = &error else {
                    unreachable!()
                };
                (error.to_string(), operation.clone())
            }
            other => panic!("expected a Request error for the conflicting route, got {other:?}"),
        };
        assert_eq!(
            message,
            format!(
                "adding route 198.19.5.0/24 via 198.19.0.1 on {} failed: File exists (os error 17)",
                tun.name()
            )
        );
        assert_eq!(
            operation,
            Operation::AddRouteV4(settings.routes_v4[2]),
            "failed operation"
        );

        let addresses = dump_addresses(&inspector, tun.index()).await;
        let routes = dump_routes(&inspector, IpVersion::V4).await;
        let earlier_route = find_route(&routes, Ipv4Addr::new(198, 18, 64, 0).into(), 20);
        let conflicting = find_route(&routes, Ipv4Addr::new(198, 19, 5, 0).into(), 24);

        assert!(
            addresses
                .iter()
                .all(|entry| entry.local != Some(Ipv4Addr::new(198, 19, 0, 2).into())),
            "address 198.19.0.2 left behind after the failed apply: {addresses:?}"
        );
        assert_eq!(
            earlier_route, None,
            "route 198.18.64.0/20 left behind after the failed apply"
        );
        assert_eq!(
            conflicting.and_then(|route| route.oif),
            Some(loopback),
            "the existing route on lo must stay"
        );
    });
}

#[test]
fn dropping_tun_removes_device() {
    in_private_netns(|| async {
        let tun = create_tun();
        let index = tun.index();
        let mut configurator = configurator();
        let inspector = inspector();
        let applied = configurator
            .apply(&tun, &subnet_settings())
            .await
            .expect("apply failed");
        let present_before = dump_links(&inspector)
            .await
            .iter()
            .any(|l| l.header.index == index);

        drop(tun);

        let present_after = dump_links(&inspector)
            .await
            .iter()
            .any(|l| l.header.index == index);
        let routes = dump_routes(&inspector, IpVersion::V4).await;
        let tunnel_routes = routes
            .iter()
            .filter(|route| route.oif == Some(index))
            .count();
        // Removing settings of a device that is gone only finds nothing to delete.
        configurator.remove(applied).await;

        assert!(present_before, "device {index} missing before drop");
        assert!(!present_after, "device {index} still present after drop");
        assert_eq!(tunnel_routes, 0, "routes through device {index} after drop");
    });
}

#[test]
fn recv_reads_packet_routed_into_tun() {
    in_private_netns(|| async {
        let tun = create_tun();
        let mut configurator = configurator();
        let applied = configurator
            .apply(&tun, &subnet_settings())
            .await
            .expect("apply failed");
        let destination = SocketAddr::new(Ipv4Addr::new(198, 18, 128, 7).into(), 9);
        let payload = b"ferrovpn tun probe";
        let socket = UdpSocket::bind("0.0.0.0:0").expect("binding a UDP socket failed");
        socket
            .send_to(payload, destination)
            .expect("sending the UDP probe failed");

        // Other packets, such as IPv6 router solicitations, may come first, so read a bounded
        // number until the probe arrives.
        let mut buf = [0u8; 2048];
        let mut probe = None;
        for _ in 0..16 {
            let len = tun
                .recv(&mut buf)
                .await
                .expect("reading from the TUN device failed");
            let packet = &buf[..len];
            if packet.len() >= 20 && packet[0] >> 4 == 4 && packet[16..20] == [198, 18, 128, 7] {
                probe = Some(packet.to_vec());
                break;
            }
        }
        let probe = probe.expect("no IPv4 packet to 198.18.128.7 arrived on the TUN device");

        assert_eq!(
            probe[9],
            libc::IPPROTO_UDP as u8,
            "IP protocol of the probe"
        );
        assert_eq!(
            probe[12..16],
            [198, 19, 0, 2],
            "source address of the probe"
        );
        assert!(probe.ends_with(payload), "probe payload differs: {probe:?}");

        configurator.remove(applied).await;
    });
}

#[test]
fn send_delivers_packet_to_local_socket() {
    in_private_netns(|| async {
        let tun = create_tun();
        let mut configurator = configurator();
        let applied = configurator
            .apply(&tun, &subnet_settings())
            .await
            .expect("apply failed");
        let receiver = UdpSocket::bind("198.19.0.2:5300").expect("binding 198.19.0.2:5300 failed");
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let payload = b"ferrovpn tun reply";
        let packet = udp_packet([198, 18, 128, 7], [198, 19, 0, 2], 5301, 5300, payload);

        let written = tun
            .send(&packet)
            .await
            .expect("writing to the TUN device failed");

        let mut buf = [0u8; 256];
        let (len, from) = receiver
            .recv_from(&mut buf)
            .expect("no datagram arrived from the TUN");
        assert_eq!(written, packet.len(), "bytes written to the TUN device");
        assert_eq!(&buf[..len], payload, "datagram payload");
        assert_eq!(
            from,
            "198.18.128.7:5301".parse().unwrap(),
            "datagram source"
        );

        configurator.remove(applied).await;
    });
}

/// Builds an IPv4/UDP packet with a valid header checksum and no UDP checksum.
fn udp_packet(
    source: [u8; 4],
    destination: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let total_len = 20 + udp_len;

    let mut packet = vec![0u8; total_len];
    packet[0] = 0x45;
    packet[2..4].copy_from_slice(&(total_len as u16).to_be_bytes());
    packet[8] = 64;
    packet[9] = libc::IPPROTO_UDP as u8;
    packet[12..16].copy_from_slice(&source);
    packet[16..20].copy_from_slice(&destination);
    let checksum = ipv4_header_checksum(&packet[..20]);
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());

    packet[20..22].copy_from_slice(&sport.to_be_bytes());
    packet[22..24].copy_from_slice(&dport.to_be_bytes());
    packet[24..26].copy_from_slice(&(udp_len as u16).to_be_bytes());
    packet[28..].copy_from_slice(payload);
    packet
}

/// Computes the RFC 791 header checksum: the one's complement of the one's complement sum of
/// the header's 16-bit words, with the checksum field zero.
fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for word in header.chunks(2) {
        sum += u32::from(u16::from_be_bytes([word[0], word[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
