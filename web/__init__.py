"""bando's web pages: the public planning-disclosure site and the IOC map (see web/README.md)."""
