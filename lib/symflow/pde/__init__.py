"""The PDE domain: equations and their known symmetries (`pdes`), the data (`solvers`,
`headroom`), derivatives on moved grids and residual validity (`derivatives`, `pde_graphs`),
generator learning (`pde_learning`), the neural-solver experiments (`fno`, `augmentation`,
`solver_experiments`, `augmentation_study`), a LieNLSD-style detector (`detectors`) and the detector
comparison of notebook 07 (`detector_benchmark`). Built on the domain-free core `symflow`."""
