"""Tests of deploy/: infrastructure, Teams app package, workflows, scripts and the IT guide."""
