"""Records: a trained network simulated over its task's conditions, as a tidy behaviour table (one row
per trial) and an activity dataset (trial x time x unit, xarray / NetCDF). One module per kind of
run: the actor-critic on native tasks (:mod:`behaviour`, :mod:`activity`), Miconi's rule
(:mod:`perturbation`), the actor-critic on NeuroGym (:mod:`neurogym`). Records import learners
and networks; analyses read only what records write."""

from pathlib import Path

#: The file name of the activity dataset in a run's ``records/seed{S}/`` folder.
ACTIVITY = "activity.nc"


def write_dataset(ds, path: str | Path) -> None:
    """Write an xarray dataset as NetCDF-4 (h5netcdf): built in memory, then written to a fresh
    temporary name and renamed onto ``path`` (:mod:`rewardrnn.safe_files`), so that a partial file
    never has the final name and a full disk is one clean error. The folder must exist."""
    from rewardrnn.safe_files import atomic_write_bytes

    data = ds.to_netcdf(engine="h5netcdf")
    atomic_write_bytes(path, lambda f: f.write(data))
