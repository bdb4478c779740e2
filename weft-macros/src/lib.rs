//! Attribute macros for the [weft] async runtime: `#[weft::main]` and
//! `#[weft::test]`.
//!
//! You normally don't depend on this crate directly: `weft` re-exports both
//! macros (behind its default `macros` feature), so write `#[weft::main]`
//! and `#[weft::test]`.
//!
//! * [`macro@main`] turns `async fn main()` into a plain `fn main()` that runs
//!   the body on a weft runtime with [`weft::run`].
//! * [`macro@test`] turns `async fn some_test()` into a `#[test]` function that
//!   builds a fresh runtime for that test and blocks on the body. With
//!   `#[weft::test(start_paused = true)]` the runtime starts with its clock
//!   paused, so timers complete in virtual time, instantly.
//!
//! The functions you annotate must be `async`, must take no arguments and
//! must not be generic; the macros report a compile error pointing at the
//! offending token otherwise. Attributes, visibility and the return type are
//! kept, so `async fn main() -> Result<(), Box<dyn Error>>` and tests that
//! return a `Result` work as usual. Inner attributes at the top of the body
//! (`#![allow(..)]`) are moved to the generated function's body.
//!
//! The signature is parsed with [`syn`], which also sees through the
//! invisible groups a `macro_rules!` fragment (`$vis:vis`, `$ret:ty`,
//! `$body:block`) wraps around its tokens. The body's statements are passed
//! through as tokens, never parsed, so errors in your code point at your code.
//!
//! [weft]: https://docs.rs/weft
//! [`weft::run`]: https://docs.rs/weft/latest/weft/fn.run.html

#![deny(missing_docs)]

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{braced, token, Attribute, Error, LitBool, Meta, ReturnType, Safety, Signature};
use syn::{Token, Type, Visibility};

/// Runs an `async fn main()` on a weft runtime.
///
/// ```
/// use std::time::Duration;
///
/// #[weft::main]
/// async fn main() {
///     weft::time::sleep(Duration::from_millis(1)).await;
///     println!("hello from weft");
/// }
/// ```
///
/// expands to (simplified: the real expansion also states the body's type
/// as the return type, so a type mismatch is reported at your code)
///
/// ```ignore
/// fn main() {
///     ::weft::run(async move {
///         weft::time::sleep(Duration::from_millis(1)).await;
///         println!("hello from weft");
///     })
/// }
/// ```
///
/// The return type is kept, so `main` may return anything `fn main` may,
/// for example a `Result`:
///
/// ```no_run
/// use std::error::Error;
///
/// #[weft::main]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let n: u32 = "42".parse()?;
///     assert_eq!(n, 42);
///     Ok(())
/// }
/// ```
///
/// # Arguments
///
/// `#[weft::main(start_paused = true)]` (or `false`) builds the runtime with
/// [`Builder::start_paused`] instead of calling `weft::run`:
/// `::weft::Builder::new().start_paused(true).build().expect(..).block_on(..)`.
/// No other argument is accepted.
///
/// # Errors
///
/// The function must be `async`:
///
/// ```compile_fail
/// #[weft::main]
/// fn main() {} // error: the `async` keyword is missing from the function declaration
/// ```
///
/// and must take no arguments and have no generic parameters:
///
/// ```compile_fail
/// #[weft::main]
/// async fn main(verbose: bool) {} // error: #[weft::main] functions take no arguments
/// ```
///
/// ```compile_fail
/// #[weft::main]
/// async fn main<T>() {} // error: #[weft::main] functions cannot have generic parameters
/// ```
///
/// [`Builder::start_paused`]: https://docs.rs/weft/latest/weft/struct.Builder.html
#[proc_macro_attribute]
pub fn main(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh weft runtime.
///
/// ```
/// # fn main() {}
/// use std::time::Duration;
///
/// #[weft::test]
/// async fn spawned_task_returns() {
///     let n = weft::spawn(async { 7 }).await.unwrap();
///     assert_eq!(n, 7);
/// }
///
/// // A paused clock: timers fire in virtual time, the test takes no real time.
/// #[weft::test(start_paused = true)]
/// async fn an_hour_passes_instantly() {
///     let start = weft::time::Instant::now();
///     weft::time::sleep(Duration::from_secs(3600)).await;
///     assert!(weft::time::Instant::now().duration_since(start) >= Duration::from_secs(3600));
/// }
///
/// // Tests may return a `Result`, and keep their other attributes.
/// #[weft::test]
/// #[ignore = "slow"]
/// async fn returns_result() -> Result<(), String> {
///     Ok(())
/// }
/// ```
///
/// Each test expands to (simplified, as for [`macro@main`])
///
/// ```ignore
/// #[::core::prelude::v1::test]
/// fn spawned_task_returns() {
///     ::weft::Builder::new()
///         .start_paused(false)
///         .build()
///         .expect("weft: failed to build the test runtime")
///         .block_on(async move { /* the body */ })
/// }
/// ```
///
/// so don't add `#[test]` yourself:
///
/// ```compile_fail
/// # fn main() {}
/// #[weft::test]
/// #[test] // error: a second test attribute is given: #[weft::test] already adds `#[test]`
/// async fn twice() {}
/// ```
///
/// # Arguments
///
/// * `start_paused = true` starts the runtime with its clock paused (virtual
///   time); `start_paused = false` is the default.
///
/// No other argument is accepted.
///
/// # Errors
///
/// The function must be `async`:
///
/// ```compile_fail
/// # fn main() {}
/// #[weft::test]
/// fn not_async() {} // error: the `async` keyword is missing from the function declaration
/// ```
///
/// must take no arguments:
///
/// ```compile_fail
/// # fn main() {}
/// #[weft::test]
/// async fn with_args(n: u32) {} // error: #[weft::test] functions take no arguments
/// ```
///
/// and only `start_paused = true|false` is accepted as an argument:
///
/// ```compile_fail
/// # fn main() {}
/// #[weft::test(flavor = "multi_thread")] // error: unknown argument `flavor`
/// async fn bad_argument() {}
/// ```
///
/// ```compile_fail
/// # fn main() {}
/// #[weft::test(start_paused = yes)] // error: `start_paused` must be `true` or `false`
/// async fn bad_value() {}
/// ```
#[proc_macro_attribute]
pub fn test(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand(Kind::Test, args.into(), item.into()).into()
}

/// Which macro is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `#[weft::main]`.
    Main,
    /// `#[weft::test]`.
    Test,
}

impl Kind {
    /// The attribute as the user writes it, for error messages.
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[weft::main]",
            Kind::Test => "#[weft::test]",
        }
    }

    /// The shape of function the attribute wants, for error messages.
    fn example(self) -> &'static str {
        match self {
            Kind::Main => "`async fn main()`",
            Kind::Test => "`async fn my_test()`",
        }
    }
}

/// The arguments in `#[weft::main(..)]` or `#[weft::test(..)]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Args {
    /// `start_paused = true|false`, `None` when not given.
    start_paused: Option<bool>,
}

impl Args {
    /// Parses `start_paused = true|false`, optionally followed by a comma.
    fn parse(kind: Kind, input: ParseStream) -> syn::Result<Args> {
        let fail = |span, what: &str| {
            let attr = kind.attr();
            let accepted = "accepts only `start_paused = true` or `start_paused = false`";
            Error::new(span, format!("{what}: {attr} {accepted}"))
        };
        let mut args = Args::default();
        while !input.is_empty() {
            if !input.peek(Ident::peek_any) {
                return Err(fail(input.span(), "expected an argument"));
            }
            let key = input.call(Ident::parse_any)?;
            if key != "start_paused" {
                return Err(fail(key.span(), &format!("unknown argument `{key}`")));
            }
            if args.start_paused.is_some() {
                return Err(fail(key.span(), "`start_paused` is given twice"));
            }
            let Ok(eq) = input.parse::<Token![=]>() else {
                let at = if input.is_empty() {
                    key.span()
                } else {
                    input.span()
                };
                return Err(fail(at, "expected `=` after `start_paused`"));
            };
            if input.is_empty() {
                let what = "expected `true` or `false` after `start_paused =`";
                return Err(fail(eq.span, what));
            }
            let Ok(value) = input.parse::<LitBool>() else {
                return Err(fail(
                    input.span(),
                    "`start_paused` must be `true` or `false`",
                ));
            };
            args.start_paused = Some(value.value);
            if !input.is_empty() && input.parse::<Token![,]>().is_err() {
                return Err(fail(input.span(), "expected `,` between arguments"));
            }
        }
        Ok(args)
    }
}

/// The annotated function: `attrs vis async fn name() -> Ret { body }`.
struct AsyncFn {
    /// Outer attributes, kept on the generated function.
    attrs: Vec<Attribute>,
    /// Kept as written.
    vis: Visibility,
    /// Everything from the qualifiers to the return type; [`AsyncFn::check`]
    /// says whether it has the shape the macros accept.
    sig: Signature,
    /// The body's braces, whose span the generated blocks take so that a
    /// type error in the body is reported at the body.
    brace: token::Brace,
    /// `#![..]` at the top of the body; they move to the generated function's
    /// body, since an `async` block can't hold them.
    inner_attrs: Vec<Attribute>,
    /// The rest of the body, as the user wrote it.
    stmts: TokenStream,
}

impl AsyncFn {
    /// Parses any function with a body; [`AsyncFn::check`] narrows it down.
    fn parse(kind: Kind, input: ParseStream) -> syn::Result<AsyncFn> {
        let (attr, example) = (kind.attr(), kind.example());
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        if !fn_ahead(input) {
            let msg = format!("{attr} can only be used on {example}");
            return Err(Error::new(input.span(), msg));
        }
        let sig: Signature = input.parse()?;
        if !input.peek(token::Brace) {
            let msg = if input.is_empty() || input.peek(Token![;]) {
                format!("{attr} functions need a body: {attr} needs {example}")
            } else {
                format!("unexpected token: {attr} needs {example}")
            };
            return Err(Error::new(input.span(), msg));
        }
        let body;
        let brace = braced!(body in input);
        Ok(AsyncFn {
            attrs,
            vis,
            sig,
            brace,
            inner_attrs: body.call(Attribute::parse_inner)?,
            stmts: body.parse()?,
        })
    }

    /// Every reason this function can't be expanded, each at its own token.
    fn check(&self, kind: Kind) -> syn::Result<()> {
        let (attr, example) = (kind.attr(), kind.example());
        let sig = &self.sig;
        let mut errors = Vec::new();
        if kind == Kind::Test {
            let second = "a second test attribute is given: #[weft::test] already adds `#[test]`";
            let tests = self.attrs.iter().filter(|a| is_test_attr(a));
            errors.extend(tests.map(|a| Error::new_spanned(a, second)));
        }
        let qualifiers = [
            sig.constness.as_ref().map(|t| (t.span, "const")),
            match &sig.safety {
                Safety::Unsafe(t) => Some((t.span, "unsafe")),
                Safety::Safe(t) => Some((t.span, "safe")),
                Safety::Default => None,
            },
            sig.abi
                .as_ref()
                .map(|abi| (abi.extern_token.span, "extern")),
        ];
        for (span, q) in qualifiers.into_iter().flatten() {
            let msg = format!("{attr} functions cannot be `{q}`: {attr} needs {example}");
            errors.push(Error::new(span, msg));
        }
        if sig.asyncness.is_none() {
            let msg = format!(
                "the `async` keyword is missing from the function declaration: {attr} needs {example}"
            );
            errors.push(Error::new(sig.fn_token.span, msg));
        }
        if sig.generics.lt_token.is_some() {
            let msg = format!("{attr} functions cannot have generic parameters");
            errors.push(Error::new_spanned(&sig.generics, msg));
        }
        if !sig.inputs.is_empty() || sig.variadic.is_some() {
            let msg = format!("{attr} functions take no arguments");
            errors.push(Error::new(sig.paren_token.span.join(), msg));
        }
        if let Some(clause) = &sig.generics.where_clause {
            let msg = format!("{attr} functions cannot have a `where` clause");
            errors.push(Error::new(clause.where_token.span, msg));
        }
        let all = errors.into_iter().reduce(|mut all, e| {
            all.combine(e);
            all
        });
        all.map_or(Ok(()), Err)
    }
}

/// Whether a function signature is next: qualifiers, then `fn`.
fn fn_ahead(input: ParseStream) -> bool {
    let ahead = input.fork();
    loop {
        if ahead.peek(Token![fn]) {
            return true;
        }
        let qualifier = ahead.parse::<Token![const]>().is_ok()
            || ahead.parse::<Token![async]>().is_ok()
            || ahead.parse::<Token![unsafe]>().is_ok()
            || ahead.parse::<Token![safe]>().is_ok()
            || ahead.parse::<syn::Abi>().is_ok();
        if !qualifier {
            return false;
        }
    }
}

/// A `#[test]` that would run the function a second time: `test`,
/// `::core::prelude::v1::test`, `tokio::test`, ... but not
/// `cfg_attr(.., test)` or `should_panic`.
fn is_test_attr(attr: &Attribute) -> bool {
    let Meta::Path(path) = &attr.meta else {
        return false;
    };
    path.segments
        .last()
        .is_some_and(|last| last.ident == "test")
}

/// Both macros: parse, check, and build the function, or report every error
/// found.
fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    let args = (|input: ParseStream| Args::parse(kind, input)).parse2(args);
    let args = args.unwrap_or_else(|e| {
        out.extend(e.to_compile_error());
        Args::default()
    });
    let item = match (|input: ParseStream| AsyncFn::parse(kind, input)).parse2(item) {
        Ok(item) => item,
        Err(e) => {
            out.extend(e.to_compile_error());
            return out;
        }
    };
    match item.check(kind) {
        Ok(()) => out.extend(build(kind, args, item)),
        Err(e) => {
            out.extend(e.to_compile_error());
            // Keep the name defined, so that uses of it don't produce a
            // second, confusing error.
            let name = &item.sig.ident;
            out.extend(quote!(#[allow(dead_code)] fn #name() {}));
        }
    }
    out
}

/// The expanded function: `attrs vis fn name() -> Ret { runtime.block_on(async move { body }) }`.
fn build(kind: Kind, args: Args, item: AsyncFn) -> TokenStream {
    let AsyncFn {
        attrs,
        vis,
        mut sig,
        brace,
        inner_attrs,
        stmts,
    } = item;
    sig.asyncness = None;
    let body_span = brace.span.join();
    let async_stmts = match &sig.output {
        // `!` and `impl Trait` can't be named in a `let`: the body becomes
        // the async block's body as is.
        ReturnType::Type(_, ty) if !nameable(ty) => stmts,
        // `let _weft_ret: Ret = { body }; return _weft_ret;` tells the
        // compiler the body's type up front, so a mismatch is reported at the
        // body's tail expression instead of at the macro. The `allow`s cover
        // our `let` and `return` when the body diverges (ends in `panic!()`),
        // not the user's code.
        output => {
            let ty = match output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => ty.to_token_stream(),
            };
            let ret = Ident::new("_weft_ret", Span::mixed_site());
            let user_block = braces(body_span, stmts);
            quote! {
                #[allow(clippy::diverging_sub_expression)]
                let #ret: #ty = #user_block;
                #[allow(unreachable_code, clippy::needless_return, clippy::used_underscore_binding)]
                return #ret;
            }
        }
    };
    let future = braces(body_span, async_stmts);
    let run = match (kind, args.start_paused) {
        (Kind::Main, None) => quote!(::weft::run(async move #future)),
        (kind, paused) => {
            let paused = paused.unwrap_or(false);
            let failed = match kind {
                Kind::Main => "weft: failed to build the runtime",
                Kind::Test => "weft: failed to build the test runtime",
            };
            // A `let` of its own, so the `allow` covers our `expect` but not
            // the user's body.
            let rt = Ident::new("rt", Span::mixed_site());
            quote! {
                #[allow(clippy::expect_used)]
                let #rt = ::weft::Builder::new().start_paused(#paused).build().expect(#failed);
                #rt.block_on(async move #future)
            }
        }
    };
    let test_attr = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));
    let fn_body = braces(body_span, quote!(#(#inner_attrs)* #run));
    quote!(#test_attr #(#attrs)* #vis #sig #fn_body)
}

/// Whether a return type can be written as a `let` type annotation: not `!`
/// (unstable there) and not containing `impl Trait`.
fn nameable(ty: &Type) -> bool {
    match ty {
        Type::Never(_) => false,
        Type::Group(group) => nameable(&group.elem),
        _ => !mentions_impl(ty.to_token_stream()),
    }
}

/// Whether `impl` appears anywhere in the tokens, nested groups included.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

/// `{ tokens }`, spanning `span`.
fn braces(span: Span, tokens: TokenStream) -> Group {
    let mut group = Group::new(Delimiter::Brace, tokens);
    group.set_span(span);
    group
}

#[cfg(test)]
mod tests {
    use super::{expand, Args, AsyncFn, Kind};
    use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
    use syn::parse::{ParseStream, Parser};

    fn tokens(src: &str) -> TokenStream {
        src.parse().expect(src)
    }

    fn args(kind: Kind, src: &str) -> Result<Args, String> {
        let parse = |input: ParseStream| Args::parse(kind, input);
        parse.parse2(tokens(src)).map_err(|e| e.to_string())
    }

    /// Every error the macro reports for `src`, in order.
    fn errors(kind: Kind, src: &str) -> Vec<String> {
        let parse = |input: ParseStream| AsyncFn::parse(kind, input);
        let result = parse.parse2(tokens(src)).and_then(|f| f.check(kind));
        let error = result.expect_err(src);
        error.into_iter().map(|e| e.to_string()).collect()
    }

    /// Token spacing differs from source spacing: compare without any.
    fn squash(s: &str) -> String {
        s.split_whitespace().collect()
    }

    fn expansion(kind: Kind, args: &str, item: &str) -> String {
        squash(&expand(kind, tokens(args), tokens(item)).to_string())
    }

    /// The reasons the `compile_fail` examples in the docs give.
    #[test]
    fn documented_errors() {
        assert_eq!(
            errors(Kind::Main, "fn main() {}"),
            [
                "the `async` keyword is missing from the function declaration: \
              #[weft::main] needs `async fn main()`"
            ]
        );
        assert_eq!(
            errors(Kind::Main, "async fn main(verbose: bool) {}"),
            ["#[weft::main] functions take no arguments"]
        );
        assert_eq!(
            errors(Kind::Main, "async fn main<T>() {}"),
            ["#[weft::main] functions cannot have generic parameters"]
        );
        assert_eq!(
            errors(Kind::Test, "#[test] async fn twice() {}"),
            ["a second test attribute is given: #[weft::test] already adds `#[test]`"]
        );
        assert_eq!(
            errors(Kind::Test, "fn not_async() {}"),
            [
                "the `async` keyword is missing from the function declaration: \
              #[weft::test] needs `async fn my_test()`"
            ]
        );
        assert_eq!(
            errors(Kind::Test, "async fn with_args(n: u32) {}"),
            ["#[weft::test] functions take no arguments"]
        );
        let accepted = "#[weft::test] accepts only `start_paused = true` or `start_paused = false`";
        assert_eq!(
            args(Kind::Test, "flavor = \"multi_thread\""),
            Err(format!("unknown argument `flavor`: {accepted}"))
        );
        assert_eq!(
            args(Kind::Test, "start_paused = yes"),
            Err(format!(
                "`start_paused` must be `true` or `false`: {accepted}"
            ))
        );
    }

    #[test]
    fn args_accepted() {
        assert_eq!(args(Kind::Test, ""), Ok(Args { start_paused: None }));
        let paused = |p| {
            Ok(Args {
                start_paused: Some(p),
            })
        };
        assert_eq!(args(Kind::Test, "start_paused = true"), paused(true));
        assert_eq!(args(Kind::Main, "start_paused = false,"), paused(false));
    }

    #[test]
    fn args_rejected() {
        let check = |src: &str, needle: &str| {
            let msg = args(Kind::Test, src).expect_err(src);
            assert!(msg.starts_with(needle), "{src}: {msg}");
            let accepted =
                "#[weft::test] accepts only `start_paused = true` or `start_paused = false`";
            assert!(msg.ends_with(accepted), "{src}: {msg}");
        };
        check("start_paused", "expected `=`");
        check("start_paused true", "expected `=`");
        check("start_paused =", "expected `true` or `false`");
        check(
            "start_paused = \"true\"",
            "`start_paused` must be `true` or `false`",
        );
        check(
            "start_paused = 1",
            "`start_paused` must be `true` or `false`",
        );
        check("start_paused = true false", "expected `,`");
        check(
            "start_paused = true, start_paused = false",
            "`start_paused` is given twice",
        );
        check("\"start_paused\"", "expected an argument");
        check("start_paused = true, x", "unknown argument `x`");
        let msg = args(Kind::Main, "x").unwrap_err();
        assert!(msg.contains("#[weft::main] accepts only"), "{msg}");
    }

    #[test]
    fn not_an_async_fn() {
        let first = |kind, src| errors(kind, src).remove(0);
        assert_eq!(
            first(Kind::Main, "struct S;"),
            "#[weft::main] can only be used on `async fn main()`"
        );
        assert!(first(Kind::Main, "async fn main();").contains("need a body"));
        assert!(first(Kind::Main, "async fn main()").contains("need a body"));
        assert!(first(Kind::Main, "async fn main() foo {}").starts_with("unexpected token"));
        assert!(first(Kind::Main, "async unsafe fn main() {}").contains("cannot be `unsafe`"));
        assert!(first(Kind::Main, "const fn main() {}").contains("cannot be `const`"));
        assert!(first(Kind::Main, "async extern \"C\" fn main() {}").contains("`extern`"));
        assert!(first(Kind::Test, "async fn t() where u8: Copy {}").contains("`where`"));
    }

    #[test]
    fn every_error_is_reported() {
        let all = errors(Kind::Test, "#[test] fn t<T>(x: T) where T: Copy {}");
        assert_eq!(all.len(), 5, "{all:?}");
    }

    #[test]
    fn only_a_plain_test_attribute_is_a_second_test() {
        for attr in ["test", "::core::prelude::v1::test", "tokio::test"] {
            let all = errors(
                Kind::Test,
                &format!("#[ignore] #[{attr}] async fn t() {{}}"),
            );
            assert!(all[0].starts_with("a second test attribute"), "{all:?}");
        }
        let ok = |kind, src: &str| expansion(kind, "", src).contains("fnt()");
        assert!(ok(Kind::Main, "#[test] async fn t() {}"));
        assert!(ok(Kind::Test, "#[cfg_attr(x, test)] async fn t() {}"));
        assert!(ok(Kind::Test, "#[should_panic] async fn t() {}"));
    }

    #[test]
    fn main_runs_on_weft_run() {
        let out = expansion(Kind::Main, "", "async fn main() { body() }");
        assert!(out.starts_with("fnmain(){::weft::run(asyncmove{"), "{out}");
        assert!(out.contains("let_weft_ret:()={body()};"), "{out}");
    }

    #[test]
    fn start_paused_builds_a_runtime() {
        let out = expansion(Kind::Main, "start_paused = true", "async fn main() {}");
        assert!(
            out.contains("::weft::Builder::new().start_paused(true).build()"),
            "{out}"
        );
        let failed = squash("\"weft: failed to build the runtime\"");
        assert!(out.contains(&failed), "{out}");
        let out = expansion(Kind::Test, "", "async fn t() {}");
        assert!(
            out.starts_with("#[::core::prelude::v1::test]fnt()"),
            "{out}"
        );
        assert!(out.contains(".start_paused(false)"), "{out}");
        let failed = squash("\"weft: failed to build the test runtime\"");
        assert!(out.contains(&failed), "{out}");
    }

    #[test]
    fn signature_attributes_and_inner_attributes_are_kept() {
        let src =
            "#[ignore] pub(crate) async fn t() -> Result<(), String> { #![allow(unused)] Ok(()) }";
        let out = expansion(Kind::Test, "", src);
        let head = "#[::core::prelude::v1::test]#[ignore]pub(crate)fnt()->Result<(),String>{#![allow(unused)]";
        assert!(out.starts_with(head), "{out}");
        assert!(
            out.contains("let_weft_ret:Result<(),String>={Ok(())};"),
            "{out}"
        );
    }

    #[test]
    fn unnameable_return_types_are_not_annotated() {
        for ret in ["!", "impl std::fmt::Debug", "Box<impl Fn()>"] {
            let out = expansion(
                Kind::Main,
                "",
                &format!("async fn main() -> {ret} {{ body() }}"),
            );
            assert!(out.contains("asyncmove{body()}"), "{out}");
        }
    }

    #[test]
    fn a_rejected_function_leaves_a_stub() {
        let out = expansion(Kind::Test, "", "fn t() {}");
        assert!(out.contains("compile_error!"), "{out}");
        assert!(out.ends_with("#[allow(dead_code)]fnt(){}"), "{out}");
    }

    #[test]
    fn bad_arguments_still_expand_the_function() {
        let out = expansion(Kind::Test, "flavor = 1", "async fn t() {}");
        assert!(out.contains("compile_error!"), "{out}");
        assert!(out.contains(".start_paused(false)"), "{out}");
    }

    /// What a `macro_rules!` `$vis:vis` hands over: `pub(crate)`, or nothing,
    /// inside an invisible group.
    #[test]
    fn visibility_in_an_invisible_group() {
        for vis in ["pub(crate)", ""] {
            let group = Group::new(Delimiter::None, tokens(vis));
            let mut item = TokenStream::from(TokenTree::Group(group));
            item.extend(tokens("async fn t() {}"));
            let out = squash(&expand(Kind::Test, TokenStream::new(), item).to_string());
            let expected = format!("#[::core::prelude::v1::test]{vis}fnt()");
            assert!(out.starts_with(&expected), "{out}");
        }
    }
}
