fn main() {
    lexalign_build::link_torch();
    lexalign_build::emit_git_commit();
}
