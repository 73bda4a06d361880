"""What both adapters do with the core, written once and run against each framework."""
