//! memcached text protocol (classic and meta commands): parser and reply composer.
