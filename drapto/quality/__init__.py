"""Quality targeting and the encode of one segment: the CRF search's decisions, VMAF,
the encoding policy, the film's calibration, size and balance, SVT-AV1's command."""
