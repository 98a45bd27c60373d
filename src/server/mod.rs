//! mio event loops, listeners, connections, buffers, limits, timeouts.
