"""Records: a trained network simulated over its task's conditions, as a tidy behaviour table (one row
per trial) and an activity dataset (trial x time x unit, xarray / NetCDF). One module per kind of
run: the actor-critic on native tasks (:mod:`behaviour`, :mod:`activity`), Miconi's rule
(:mod:`perturbation`), the actor-critic on NeuroGym (:mod:`neurogym`). Records import learners
and networks; analyses read only what records write."""

#: The file name of the activity dataset in a run's ``records/seed{S}/`` folder.
ACTIVITY = "activity.nc"
