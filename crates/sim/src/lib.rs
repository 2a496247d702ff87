//! Simulated charging stations.
