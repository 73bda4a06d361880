"""Maintainers' tooling for ``stepfun doctor``: the wire probes, and the repository's cassettes.

- `stepfun_probes.assumptions`: the wire assumptions our code relies on, one probe each;
- `stepfun_probes.probes` and `stepfun_probes.probing`: step 5 of the doctor (``--probe``,
  ``--only``), run by `stepfun_core.doctor.run_doctor` when asked;
- `stepfun_probes.capture`: the exchanges as they crossed the wire, byte for byte;
- `stepfun_probes.cassette_format`: how cassettes are written (``--record``), read, matched and
  redacted, for the doctor, the test suite and the tour in ``examples/``.

Installed with the distribution, usable with its ``doctor`` extra
(``pip install "stepfun-integrations[doctor]"``, which adds PyYAML). The doctor's runtime part
(`stepfun_core.doctor`) imports this package only when a probe option is given.
"""
