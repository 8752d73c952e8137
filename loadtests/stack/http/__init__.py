"""The stand-in's HTTP layer: an incremental HTTP/1.1 parser, the asyncio server and what its
servers share."""
