"""一键归档: receive transfers, run the DA/T 70 four-property checks, build preservation packages."""
