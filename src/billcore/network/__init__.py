"""The network interfaces: servers that switches, gateways and mobile cores talk to
(RADIUS in ``network.radius``, Diameter Gy in ``network.diameter``). Thin adapters: every
decision is ``charging.sessions``'s."""
