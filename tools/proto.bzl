"""cc_proto: C++ code for one .proto with the system protoc (Debian's protobuf 3.21).

Bazel 4.2's proto rules want protobuf built from source; offline we call /usr/bin/protoc in
a genrule and wrap the generated files in a cc_library named `name`.
"""

def cc_proto(name, src, deps = [], visibility = None):
    base = src[:-len(".proto")]
    pkg = native.package_name()
    gen = [base + ".pb.h", base + ".pb.cc"]
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_src" for d in deps],
        outs = gen,
        tools = ["@com_google_protobuf//:protoc"],
        cmd = "$(location @com_google_protobuf//:protoc) --proto_path=. --cpp_out=$(GENDIR) " +
              pkg + "/" + src,
    )
    native.filegroup(name = name + "_src", srcs = [src], visibility = visibility)
    native.cc_library(
        name = name,
        srcs = [base + ".pb.cc"],
        hdrs = [base + ".pb.h"],
        deps = ["@com_google_protobuf//:protobuf"] + deps,
        visibility = visibility,
    )
