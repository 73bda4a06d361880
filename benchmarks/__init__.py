"""Client overhead of the StepFun adapters against their peers and the framework floors."""
