// Anchor for the shared precompiled header; see core/CMakeLists.txt.
