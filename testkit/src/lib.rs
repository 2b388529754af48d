//! Fixtures shared by natschat's tests. Everything here talks to real
//! servers: the local stack that `./dev up` starts, or private instances a
//! test starts for itself when it must kill or restart them.

pub mod callout;
pub mod daemon;
pub mod keycloak;
pub mod keycloak_admin;
pub mod nats_server;
pub mod postgres;
pub mod stack;
