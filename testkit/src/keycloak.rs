//! Keycloak logins driven the way a person's browser would drive them.
