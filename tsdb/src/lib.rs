//! tigk's time-series store.
