"""symflow: learning infinitesimal generators of continuous symmetries from data.

A thin library behind the compendium's notebooks; one module per idea:
generators, flows, losses, pdes, solvers, derivatives, images, fno, metrics, profiles, io, runner.
"""
__version__ = "0.1.0"
