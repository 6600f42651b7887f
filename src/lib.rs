//! Workspace-level integration and snapshot tests live in `tests/`.
