"""Records: a trained network simulated over its task's conditions, as a tidy behaviour table (one row
per trial) and an activity dataset (trial x time x unit, xarray / NetCDF). One module per kind of
run: the actor-critic on native tasks (:mod:`behaviour`, :mod:`activity`), Miconi's rule
(:mod:`perturbation`), the actor-critic on NeuroGym (:mod:`neurogym`). Records import learners
and networks; analyses read only what records write."""

from pathlib import Path

#: The file name of the activity dataset in a run's ``records/seed{S}/`` folder.
ACTIVITY = "activity.nc"


def write_dataset(ds, path: str | Path) -> None:
    """Write an xarray dataset as NetCDF-4 (h5netcdf) under a temporary name, then rename it onto
    ``path``: a partial file never has the final name; the folder must exist."""
    from rewardrnn.safe_files import atomic_path

    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
