//! ferrovpn app messages between the provider and its apps.
