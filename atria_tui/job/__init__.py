"""A job, in one place: its file, its parameters, the form's checks, the import of the
integration guide's JSON blocks, the console's saved fixes, and the jobs folder.

`file` (load, save, `JobConfig`, options), `parameters` (the guide's parameters, TOML
error messages), `form_checks` (the job form's live checks), `guide_import` (pasted guide
blocks), `mappings` (JOB.mappings.toml), `folder` (the jobs folder's files and free names).
"""
