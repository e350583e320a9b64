"""Video calls between browsers: the hub signals (WebRTC offer/answer/ICE), media flows peer to peer."""
