//! Test bed: network namespaces, a throwaway PKI and a real OpenVPN server.
