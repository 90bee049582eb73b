import Analysis
import TestSupport
import Testing

@Suite("FrameNormalizer", .ownThread)
struct FrameNormalizerTests {
    static let cppCases: [(function: String, normalized: String)] = [
        ("void __cdecl foo::Bar(int, char const *)", "foo::Bar"),
        ("static void * Allocator<MozJemallocBase>::malloc(unsigned __int64)", "Allocator<T>::malloc"),
        ("std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector<T>::push_back"),
        ("`anonymous namespace'::CrashFunction", "`anonymous namespace'::CrashFunction"),
        ("(anonymous namespace)::Helper(int)", "(anonymous namespace)::Helper"),
        ("Foo<(anonymous namespace)::Bar>::baz()", "Foo<T>::baz"),
        ("Foo::bar() const", "Foo::bar"),
        ("Foo::bar() const&", "Foo::bar"),
        ("Foo::bar() &&", "Foo::bar"),
        ("Foo::operator()(int)", "Foo::operator()"),
        ("bool operator<(A const&, B const&)", "operator<"),
        ("bool Foo::operator==(Foo const&) const", "Foo::operator=="),
        ("std::ostream& operator<<(std::ostream&, Foo const&)", "operator<<"),
        ("void* operator new(unsigned long)", "operator new"),
        ("void operator delete[](void*)", "operator delete[]"),
        ("Foo::operator bool() const", "Foo::operator bool"),
        ("Foo& Foo::operator&(Foo const&)", "Foo::operator&"),
        ("foo(int) [clone .cold.123]", "foo"),
        ("js::RunScript(JSContext*, js::RunState&)", "js::RunScript"),
        ("nsTArray_Impl<name omitted , int>::Clear()", "nsTArray_Impl<name omitted, int>::Clear"),
        ("main", "main"),
        ("KiFastSystemCallRet", "KiFastSystemCallRet"),
    ]

    @Test("C++ names", arguments: cppCases)
    func cpp(function: String, normalized: String) {
        let frame = SignatureFrame(module: "a.dll", function: function, file: "a.cpp", line: 3)
        #expect(FrameNormalizer().normalize(frame) == normalized)
    }

    static let rustCases: [(function: String, file: String?, normalized: String)] = [
        ("core::ptr::drop_in_place<alloc::vec::Vec<u8>>", "ptr/mod.rs", "core::ptr::drop_in_place<T>"),
        ("core::ptr::write_volatile::<u8>", "/rustc/x/library/core/src/ptr/mod.rs", "core::ptr::write_volatile::<T>"),
        ("<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop", "vec.rs", "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop"),
        (
            "<fn() as core::ops::function::FnOnce<()>>::call_once", "function.rs",
            "<fn as core::ops::function::FnOnce<>>::call_once"
        ),
        ("crash_client::real_main::{closure#1}", "main.rs", "crash_client::real_main::{closure#1}"),
        // The legacy mangling hash goes, with or without a source file to say it is Rust.
        ("std::panicking::begin_panic::h0123456789abcdef", nil, "std::panicking::begin_panic"),
        ("app::run::hABCDEF0123456789", "main.rs", "app::run"),
        // Not a hash: too short.
        ("app::h12", nil, "app::h12"),
    ]

    @Test("Rust names", arguments: rustCases)
    func rust(function: String, file: String?, normalized: String) {
        let frame = SignatureFrame(function: function, file: file, line: 9)
        #expect(FrameNormalizer().normalize(frame) == normalized)
    }

    @Test("without a function: file#line, then module@offset, then @address")
    func fallbacks() {
        let normalizer = FrameNormalizer(pointerSize: 4)
        #expect(normalizer.normalize(SignatureFrame(file: #"c:\src\foo.cc"#, line: 58)) == "foo.cc#58")
        #expect(normalizer.normalize(SignatureFrame(file: "/src/a/b.c", line: 12)) == "b.c#12")
        // Line 0 means no line.
        #expect(
            normalizer.normalize(SignatureFrame(module: "kernel32.dll", file: "k.c", line: 0, moduleOffset: 0x16FD6))
                == "kernel32.dll@0x00016fd6")
        #expect(normalizer.normalize(SignatureFrame(module: "kernel32.dll", moduleOffset: 0x16FD6)) == "kernel32.dll@0x00016fd6")
        #expect(
            FrameNormalizer(pointerSize: 8).normalize(SignatureFrame(module: "crash", moduleOffset: 0x1D72))
                == "crash@0x0000000000001d72")
        #expect(normalizer.normalize(SignatureFrame(offset: 0x1234)) == "@0x1234")
        #expect(normalizer.normalize(SignatureFrame(module: "", function: "", offset: 0)) == "@0x0")
    }

    @Test("functions on the line-number list keep their line")
    func lineNumbers() throws {
        let normalizer = FrameNormalizer(lineNumberFunctions: [try SignaturePattern("js_Interpret$")])
        #expect(normalizer.normalize(SignatureFrame(function: "js_Interpret(JSContext*)", line: 42)) == "js_Interpret:42")
        #expect(normalizer.normalize(SignatureFrame(function: "js_Other", line: 42)) == "js_Other")
    }
}
