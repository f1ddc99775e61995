"""Light L7 summaries from in-order payload: HTTP, DNS, TLS SNI."""
