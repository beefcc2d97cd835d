"""The foundation every layer stands on, torch-free but for the device: user-facing error types
(:mod:`.errors`), atomic writes and bounded JSON (:mod:`.fileio`), the package's paths, advisory
locks between processes, seeding, the one place a device is chosen (:mod:`.device`), process-wide
state and its restore, the run folder's layout and its one reader (:mod:`.run_folder`), the one
Markdown table writer. Imports nothing of himnet_lib."""
