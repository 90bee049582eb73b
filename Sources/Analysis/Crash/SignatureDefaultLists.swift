extension SignatureLists {
    /// The built-in irrelevant list: frames that say how the process died, not where it went wrong.
    public static let defaultIrrelevant = #"""
        # Frames skipped when building a signature. One regular expression per line, matched
        # at the start of the normalized frame; `$` anchors the end.

        # Addresses in no module: a jump into garbage says nothing about who jumped.
        @0x[0-9a-fA-F]{2,}

        # Windows: waits and system calls a thread sits in, exception dispatch and raising.
        KiFastSystemCallRet$
        KiFastSystemCall$
        KiUserExceptionDispatcher$
        KiUserCallbackDispatcher$
        NtWaitForSingleObject$
        NtWaitForMultipleObjects$
        NtDelayExecution$
        NtRaiseException$
        NtTerminateProcess$
        ZwWaitForSingleObject$
        ZwWaitForMultipleObjects$
        ZwRaiseException$
        ZwTerminateProcess$
        WaitForSingleObject(Ex)?$
        WaitForMultipleObjects(Ex)?$
        SleepEx$
        RaiseException$
        RaiseFailFastException$
        RtlRaiseException$
        RtlDispatchException$
        RtlUserThreadStart$
        BaseThreadInitThunk$
        _CxxThrowException$
        CxxThrowException$
        __CxxFrameHandler[0-9]*$
        _?_?report_gsfailure$
        _?_?report_securityfailure$
        _?_?report_rangecheckfailure$
        _?_?raise_securityfailure$
        _invoke_watson$
        _invalid_parameter(_noinfo)?(_noreturn)?$
        _?_?crt_debugger_hook$
        # Frames in system DLLs without symbols carry no function name to group by.
        (ntdll|kernel32|kernelbase|KERNELBASE|KERNEL32|ucrtbase|msvcrt|vcruntime140)\.dll

        # POSIX: abort and signal raising.
        abort$
        raise$
        __GI_raise$
        __GI_abort$
        gsignal$
        pthread_kill$
        __pthread_kill$
        __pthread_kill_implementation$
        __pthread_kill_internal$
        tgkill$
        __GI___pthread_kill$
        __restore_rt$
        _sigtramp$
        __abort_with_payload$
        abort_with_payload(_wrapper_internal)?$
        __assert_fail(_base)?$
        __assert_rtn$
        __stack_chk_fail$
        __fortify_fail$
        __chk_fail$
        __libc_message$
        __libc_fatal$
        __cxa_throw$
        __cxxabiv1::__terminate$
        std::__terminate$
        std::terminate$
        __gnu_cxx::__verbose_terminate_handler$
        demangling_terminate_handler$
        # Shared system libraries without symbols.
        libc(-[0-9.]+)?\.so(\.[0-9]+)?@
        libpthread(-[0-9.]+)?\.so(\.[0-9]+)?@
        libsystem_(kernel|c|pthread)\.dylib@

        # Rust: panic machinery between the failed check and the code that failed it.
        std::panicking::
        core::panicking::
        std::rt::begin_panic
        std::process::abort$
        std::sys::.*::abort_internal$
        rust_panic$
        rust_begin_unwind$
        std::sys(_common)?::backtrace::__rust_end_short_backtrace
        __rust_start_panic$
        __rustc::rust_panic$
        panic_abort::
        panic_unwind::
        """#

    /// The built-in prefix list: frames that are never the culprit alone, so their caller joins them.
    public static let defaultPrefix = #"""
        # Frames that join the signature and let the walk go on to their caller.

        # Memory and string primitives: the caller passed the bad pointer.
        _?_?mem(cpy|move|set|cmp|chr)(_[a-z0-9]+)*$
        _?_?wmem(cpy|move|set)$
        _?_?str(len|cmp|ncmp|cpy|ncpy|cat|chr|rchr|str|dup|nlen)(_[a-z0-9]+)*$
        _?_?wcs(len|cmp|cpy|ncpy|cat|chr|dup|nlen)$
        _platform_mem(move|set|cmp)$
        _platform_str(len|cmp|chr|ncmp)$
        __memcpy_chk$
        __memmove_chk$
        __memset_chk$
        __strcpy_chk$

        # Allocators: heap damage shows up here but was done elsewhere.
        _?_?malloc(_base|_dbg|_impl)?$
        _?_?calloc(_base|_dbg|_impl)?$
        _?_?realloc(_base|_dbg|_impl)?$
        _?_?free(_base|_dbg|_impl)?$
        _?aligned_(malloc|free|realloc)$
        posix_memalign$
        operator new(\[\])?$
        operator delete(\[\])?$
        je_(malloc|calloc|realloc|free)$
        moz_x(malloc|calloc|realloc|strdup)$
        tc_(malloc|free|new|delete)$
        mi_(malloc|free|realloc)$
        HeapAlloc$
        HeapFree$
        HeapReAlloc$
        RtlAllocateHeap$
        RtlFreeHeap$
        RtlReAllocateHeap$
        RtlpAllocateHeap(Internal)?$
        RtlpFreeHeap(Internal)?$
        RtlpLowFragHeap(Alloc|Free)$
        RtlReportCriticalFailure$
        RtlpHeapHandleError$
        RtlpReportHeapFailure$
        RtlpLogHeapFailure$
        alloc::alloc::
        alloc::raw_vec::
        __rust_(alloc|dealloc|realloc|alloc_zeroed)$
        __rdl_(alloc|dealloc|realloc)$
        __rg_(alloc|dealloc|realloc)$

        # Handlers that report a failed check on behalf of their caller.
        _purecall$
        __cxa_pure_virtual$
        __cxa_deleted_virtual$
        std::__throw_[a-z_]+$
        std::_Xout_of_range$
        std::_Xlength_error$
        std::_Xbad_alloc$
        std::_Xinvalid_argument$
        mozalloc_abort$
        mozalloc_handle_oom$
        NS_ABORT_OOM$

        # Rust: the helpers of a failed unwrap or bounds check, and raw pointer accessors.
        core::result::unwrap_failed$
        core::option::unwrap_failed$
        core::option::expect_failed$
        core::result::Result<T>::(unwrap|expect)
        core::option::Option<T>::(unwrap|expect)
        core::slice::index::
        core::str::slice_error_fail
        core::cell::panic_already_
        core::ptr::
        std::alloc::default_alloc_error_hook$
        std::alloc::rust_oom$
        alloc::alloc::handle_alloc_error
        """#

    /// The built-in sentinel list: when one of these is on the stack, the signature starts there.
    public static let defaultSentinel = #"""
        # A signature starts at the first frame matching one of these, when there is one.
        _purecall$
        __cxa_pure_virtual$
        mozalloc_abort$
        mozalloc_handle_oom$
        std::alloc::rust_oom$
        alloc::alloc::handle_alloc_error
        """#
}
