"""Sweeps over seeds, tasks and options: the sweep file (:mod:`spec`), running its jobs on Ray
(:mod:`ray_runner`), the results table and page (:mod:`results`)."""
