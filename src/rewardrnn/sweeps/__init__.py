"""Sweeps over seeds, tasks and options: the sweep file (:mod:`spec`), its jobs on Ray
(:mod:`runner`, :mod:`worker`), the results table and page (:mod:`results`)."""
