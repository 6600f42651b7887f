fn main() {
    lexalign_build::link_torch();
}
