// Package environment describes and prepares the Python environments that
// Gantry runs training scripts in.
//
// An [Environment] is either user-managed or system-managed, as in the
// seed's run configuration:
//
//   - User-managed (Python.UserManagedDependencies = true): the script runs
//     with the interpreter at Python.InterpreterPath, as it is. [Resolve]
//     checks that the interpreter exists and runs.
//   - System-managed (the default): the environment is built from a
//     conda-style spec, [CondaDependencies], and reused while the spec is
//     unchanged. [Builder.Build] builds it once under <root>/<key>/, where
//     the key is [Environment.Key], a hash of the normalised spec, and
//     returns the existing build on later calls.
//
// A spec is read and written as conda_dependencies.yml, the conda
// environment file format ([ParseCondaYAML], [CondaDependencies.YAML]):
//
//	name: project_environment
//	channels:
//	  - conda-forge
//	dependencies:
//	  - python=3.11
//	  - scikit-learn
//	  - pip
//	  - pip:
//	      - --find-links /data/wheels
//	      - requests==2.31.0
//
// Builds use micromamba, mamba or conda when the spec lists conda packages
// and one of them is on PATH; a spec whose only conda packages are python
// and pip is built without conda, with python3 -m venv and pip. Builds are
// atomic (a failed build leaves only its log, <root>/<key>.failed.log) and
// safe to run concurrently from goroutines and processes: one builds, the
// others wait for it and reuse its result.
//
// Docker settings (Environment.Docker) are carried for the targets that run
// containers; [DockerAvailable] tells whether a Docker engine answers.
// [Builder.Build] builds on the host only.
package environment
