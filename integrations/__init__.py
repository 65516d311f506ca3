"""One module per integration type, the registry, the base class and the one HTTP seam."""
