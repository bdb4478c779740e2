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
//! The crate is dependency-free: it parses the function signature by hand
//! from the `proc_macro` token stream and passes the body's tokens through
//! untouched, so errors in your code point at your code.
//!
//! [weft]: https://docs.rs/weft
//! [`weft::run`]: https://docs.rs/weft/latest/weft/fn.run.html

#![deny(missing_docs)]

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use std::str::FromStr;

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
/// [`Builder::start_paused`]: https://docs.rs/weft/latest/weft/struct.Builder.html
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args, item)
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
/// so don't add `#[test]` yourself.
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
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args, item)
}

// ---------------------------------------------------------------------------
// Expansion (works on `proc_macro` types).
// ---------------------------------------------------------------------------

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let (arg_trees, arg_toks) = lower(args);
    let (trees, toks) = lower(unwrap_none_group(item));

    let mut errors = TokenStream::new();
    let opts = match parse_args(kind, &arg_toks) {
        Ok(opts) => opts,
        Err(e) => {
            errors.extend(compile_error(&e.msg, span_of(e.at, &arg_trees)));
            Args::default()
        }
    };
    let sig = match parse_sig(kind, &toks) {
        Ok(sig) => sig,
        Err(e) => {
            errors.extend(compile_error(&e.msg, span_of(e.at, &trees)));
            // Keep the function's name defined so that uses of it don't
            // produce a second, confusing error.
            if let Some(name) = e.name.map(|i| trees[i].clone()) {
                errors.extend(stub(name));
            }
            return errors;
        }
    };
    errors.extend(build(kind, opts, &sig, &trees));
    errors
}

/// Builds the expanded function from the parsed signature.
fn build(kind: Kind, opts: Args, sig: &Sig, trees: &[TokenTree]) -> TokenStream {
    let mut out = TokenStream::new();
    if kind == Kind::Test {
        out.extend(parse("#[::core::prelude::v1::test]"));
    }
    // Outer attributes and visibility, verbatim.
    out.extend(trees[..sig.vis.end].iter().cloned());
    // `fn name()`, reusing the user's tokens for their spans.
    out.extend([trees[sig.fn_kw].clone(), trees[sig.name].clone()]);
    let mut params = Group::new(Delimiter::Parenthesis, TokenStream::new());
    params.set_span(trees[sig.params].span());
    out.extend([TokenTree::Group(params)]);
    if let Some(ret) = &sig.ret {
        // `->` plus the type tokens.
        out.extend(trees[ret.start - 2..ret.end].iter().cloned());
    }

    let TokenTree::Group(body) = &trees[sig.body] else {
        unreachable!("parse_sig checked the body is a brace group")
    };
    let (inner_attrs, stmts) = split_inner_attrs(body.stream());
    let ret_tokens = sig.ret.as_ref().map(|r| &trees[r.clone()]);
    let async_stmts = match ret_tokens {
        // A `!` or `impl Trait` return type can't be named in a `let`: pass
        // the body through as the async block's body.
        Some(ty) if !annotatable(ty) => stmts,
        // `let _weft_ret: Ret = { body }; return _weft_ret;` tells the
        // compiler the body's type up front, so a mismatch is reported at the
        // body's tail expression instead of at the macro. The `allow` keeps a
        // body that diverges (ends in `panic!()`) free of warnings, without
        // covering the user's own code. (`_` prefix: no unused-variable
        // warning when the body diverges either.)
        ty => {
            let mut user_block = Group::new(Delimiter::Brace, stmts);
            user_block.set_span(body.span());
            let ret_var = TokenTree::Ident(Ident::new("_weft_ret", Span::mixed_site()));
            // Clippy sees a body ending in `panic!()` as a diverging
            // sub-expression of the `let`; that's ours, not the user's.
            let mut s = parse("#[allow(clippy::diverging_sub_expression)] let");
            s.extend([
                ret_var.clone(),
                TokenTree::Punct(Punct::new(':', Spacing::Alone)),
            ]);
            match ty {
                Some(ty) => s.extend(ty.iter().cloned()),
                None => s.extend(parse("()")),
            }
            s.extend(parse("="));
            s.extend([TokenTree::Group(user_block)]);
            s.extend(parse(
                "; #[allow(unreachable_code, clippy::needless_return, clippy::used_underscore_binding)] return",
            ));
            s.extend([ret_var]);
            s.extend(parse(";"));
            s
        }
    };
    let mut async_body = Group::new(Delimiter::Brace, async_stmts);
    async_body.set_span(body.span());
    let mut block = parse("async move");
    block.extend([TokenTree::Group(async_body)]);

    let mut fn_body = inner_attrs;
    let block = TokenTree::Group(Group::new(Delimiter::Parenthesis, block));
    match (kind, opts.start_paused) {
        (Kind::Main, None) => {
            fn_body.extend(parse("::weft::run"));
            fn_body.extend([block]);
        }
        (kind, paused) => {
            // `let rt = ..; rt.block_on(..)`, so the `allow` covers our
            // `expect` but not the user's body.
            let rt = TokenTree::Ident(Ident::new("rt", Span::mixed_site()));
            fn_body.extend(parse("#[allow(clippy::expect_used)] let"));
            fn_body.extend([rt.clone()]);
            fn_body.extend(parse(&format!(
                "= ::weft::Builder::new().start_paused({}).build().expect(\"{}\");",
                paused.unwrap_or(false),
                match kind {
                    Kind::Main => "weft: failed to build the runtime",
                    Kind::Test => "weft: failed to build the test runtime",
                }
            )));
            fn_body.extend([rt]);
            fn_body.extend(parse(".block_on"));
            fn_body.extend([block]);
        }
    }
    let mut fn_body = Group::new(Delimiter::Brace, fn_body);
    fn_body.set_span(body.span());
    out.extend([TokenTree::Group(fn_body)]);
    out
}

/// Whether a return type can be written as a `let` type annotation: not
/// `!` (unstable there) and not containing `impl Trait`.
fn annotatable(ty: &[TokenTree]) -> bool {
    let never = matches!(ty, [TokenTree::Punct(p)] if p.as_char() == '!');
    !never && !has_impl(ty.iter().cloned())
}

fn has_impl(ty: impl Iterator<Item = TokenTree>) -> bool {
    ty.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i.to_string() == "impl",
        TokenTree::Group(g) => has_impl(g.stream().into_iter()),
        _ => false,
    })
}

/// Splits leading inner attributes (`#![..]`, including `//!` doc comments)
/// off a function body, so they can stay on the function rather than move
/// into the `async` block, where they are not allowed.
fn split_inner_attrs(body: TokenStream) -> (TokenStream, TokenStream) {
    let trees: Vec<TokenTree> = body.into_iter().collect();
    let mut i = 0;
    while let [TokenTree::Punct(hash), TokenTree::Punct(bang), TokenTree::Group(g), ..] =
        &trees[i..]
    {
        if hash.as_char() == '#' && bang.as_char() == '!' && g.delimiter() == Delimiter::Bracket {
            i += 3;
        } else {
            break;
        }
    }
    let rest = trees[i..].iter().cloned().collect();
    (trees[..i].iter().cloned().collect(), rest)
}

/// `#[allow(dead_code)] fn name() {}`, emitted next to a signature error.
fn stub(name: TokenTree) -> TokenStream {
    let mut out = parse("#[allow(dead_code)] fn");
    out.extend([name]);
    out.extend(parse("() {}"));
    out
}

/// `::core::compile_error! { "msg" }` with every token carrying `span`, so the
/// error is reported there.
fn compile_error(msg: &str, span: Span) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let mut group = Group::new(Delimiter::Brace, TokenTree::Literal(lit).into());
    group.set_span(span);
    let punct = |c, spacing| {
        let mut p = Punct::new(c, spacing);
        p.set_span(span);
        TokenTree::Punct(p)
    };
    [
        punct(':', Spacing::Joint),
        punct(':', Spacing::Alone),
        TokenTree::Ident(Ident::new("core", span)),
        punct(':', Spacing::Joint),
        punct(':', Spacing::Alone),
        TokenTree::Ident(Ident::new("compile_error", span)),
        punct('!', Spacing::Alone),
        TokenTree::Group(group),
    ]
    .into_iter()
    .collect()
}

fn span_of(at: At, trees: &[TokenTree]) -> Span {
    match at {
        At::Tok(i) => trees[i].span(),
        At::CallSite => Span::call_site(),
    }
}

fn parse(src: &str) -> TokenStream {
    TokenStream::from_str(src).expect("weft-macros: generated invalid tokens")
}

/// An item that reaches us through a `macro_rules!` `$item` fragment is
/// wrapped in an invisible group; look through it.
fn unwrap_none_group(stream: TokenStream) -> TokenStream {
    let mut iter = stream.clone().into_iter();
    match (iter.next(), iter.next()) {
        (Some(TokenTree::Group(g)), None) if g.delimiter() == Delimiter::None => g.stream(),
        _ => stream,
    }
}

/// Lowers a token stream to plain data for the parser, keeping the original
/// trees alongside (same indices) for spans and re-emission.
fn lower(stream: TokenStream) -> (Vec<TokenTree>, Vec<Tok>) {
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    let toks = trees.iter().map(|t| lower_tree(t, 1)).collect();
    (trees, toks)
}

/// `depth` is how many more levels of group contents to lower; brace groups
/// (function bodies) are never lowered, the parser only needs to know they
/// are there.
fn lower_tree(tree: &TokenTree, depth: u32) -> Tok {
    match tree {
        TokenTree::Ident(i) => Tok::Ident(i.to_string()),
        TokenTree::Punct(p) => Tok::Punct(p.as_char()),
        TokenTree::Literal(l) => Tok::Literal(l.to_string()),
        TokenTree::Group(g) => {
            let delim = match g.delimiter() {
                Delimiter::Parenthesis => Delim::Paren,
                Delimiter::Bracket => Delim::Bracket,
                Delimiter::Brace => Delim::Brace,
                Delimiter::None => Delim::None,
            };
            // A `$value:expr`-style fragment holding a single token: look through it.
            if delim == Delim::None {
                let mut iter = g.stream().into_iter();
                if let (Some(only), None) = (iter.next(), iter.next()) {
                    return lower_tree(&only, depth);
                }
            }
            let contents = if depth == 0 || delim == Delim::Brace {
                Vec::new()
            } else {
                g.stream()
                    .into_iter()
                    .map(|t| lower_tree(&t, depth - 1))
                    .collect()
            };
            Tok::Group(delim, contents)
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing (pure: plain data in, plain data out, unit-testable).
// ---------------------------------------------------------------------------

/// Which macro is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[weft::main]",
            Kind::Test => "#[weft::test]",
        }
    }
}

/// A token, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Punct(char),
    Literal(String),
    /// A delimited group and its lowered contents (always empty for brace
    /// groups and for groups nested more than one level deep).
    Group(Delim, Vec<Tok>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delim {
    Paren,
    Bracket,
    Brace,
    None,
}

/// Where to report an error: at a token (index into the top-level tokens the
/// parser was given), or at the macro invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Tok(usize),
    CallSite,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Error {
    at: At,
    msg: String,
    /// Index of the function name, if the parser got that far.
    name: Option<usize>,
}

fn err(at: At, msg: impl Into<String>) -> Error {
    Error {
        at,
        msg: msg.into(),
        name: None,
    }
}

/// The macro's arguments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Args {
    start_paused: Option<bool>,
}

/// Parses `start_paused = true|false` (optionally followed by a comma).
fn parse_args(kind: Kind, toks: &[Tok]) -> Result<Args, Error> {
    let accepted = format!(
        "{} accepts only `start_paused = true` or `start_paused = false`",
        kind.attr()
    );
    let mut args = Args::default();
    let mut i = 0;
    while i < toks.len() {
        let Tok::Ident(key) = &toks[i] else {
            return Err(err(At::Tok(i), format!("expected an argument: {accepted}")));
        };
        if key != "start_paused" {
            return Err(err(
                At::Tok(i),
                format!("unknown argument `{key}`: {accepted}"),
            ));
        }
        if args.start_paused.is_some() {
            return Err(err(
                At::Tok(i),
                format!("`start_paused` is given twice: {accepted}"),
            ));
        }
        if toks.get(i + 1) != Some(&Tok::Punct('=')) {
            let at = if i + 1 < toks.len() { i + 1 } else { i };
            return Err(err(
                At::Tok(at),
                format!("expected `=` after `start_paused`: {accepted}"),
            ));
        }
        args.start_paused = Some(match toks.get(i + 2) {
            Some(Tok::Ident(v)) if v == "true" => true,
            Some(Tok::Ident(v)) if v == "false" => false,
            Some(_) => {
                return Err(err(
                    At::Tok(i + 2),
                    format!("`start_paused` must be `true` or `false`: {accepted}"),
                ))
            }
            None => {
                return Err(err(
                    At::Tok(i + 1),
                    format!("expected `true` or `false` after `start_paused =`: {accepted}"),
                ))
            }
        });
        i += 3;
        match toks.get(i) {
            None => {}
            Some(Tok::Punct(',')) => i += 1,
            Some(_) => {
                return Err(err(
                    At::Tok(i),
                    format!("expected `,` between arguments: {accepted}"),
                ))
            }
        }
    }
    Ok(args)
}

/// Token positions of the parts of `attrs vis async fn name() -> Ret { body }`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sig {
    /// Outer attributes: `0..vis.start`.
    vis: std::ops::Range<usize>,
    fn_kw: usize,
    name: usize,
    /// The (empty) parameter list group.
    params: usize,
    /// The return type's tokens, without the `->` (which is the two tokens
    /// just before).
    ret: Option<std::ops::Range<usize>>,
    body: usize,
}

fn is_ident(tok: Option<&Tok>, s: &str) -> bool {
    matches!(tok, Some(Tok::Ident(i)) if i == s)
}

fn is_punct(tok: Option<&Tok>, c: char) -> bool {
    tok == Some(&Tok::Punct(c))
}

/// A `test` attribute: `test`, `::core::prelude::v1::test`, `tokio::test`, ...
fn is_test_attr(contents: &[Tok]) -> bool {
    matches!(contents.last(), Some(Tok::Ident(i)) if i == "test")
        && contents
            .iter()
            .all(|t| matches!(t, Tok::Ident(_) | Tok::Punct(':')))
}

fn parse_sig(kind: Kind, toks: &[Tok]) -> Result<Sig, Error> {
    let attr = kind.attr();
    let example = match kind {
        Kind::Main => "`async fn main()`",
        Kind::Test => "`async fn my_test()`",
    };
    let not_a_fn = |at| err(at, format!("{attr} can only be used on {example}"));
    let at_or_call_site = |i: usize| {
        if i < toks.len() {
            At::Tok(i)
        } else {
            At::CallSite
        }
    };

    // Outer attributes.
    let mut i = 0;
    while is_punct(toks.get(i), '#') {
        match toks.get(i + 1) {
            Some(Tok::Group(Delim::Bracket, contents)) => {
                if kind == Kind::Test && is_test_attr(contents) {
                    return Err(err(
                        At::Tok(i + 1),
                        "a second test attribute is given: #[weft::test] already adds `#[test]`",
                    ));
                }
                i += 2;
            }
            _ => return Err(not_a_fn(at_or_call_site(i))),
        }
    }

    // Visibility.
    let vis_start = i;
    if is_ident(toks.get(i), "pub") {
        i += 1;
        if matches!(toks.get(i), Some(Tok::Group(Delim::Paren, _))) {
            i += 1;
        }
    }
    let vis = vis_start..i;

    // Qualifiers and `fn`.
    let is_async = is_ident(toks.get(i), "async");
    if is_async {
        i += 1;
    }
    match toks.get(i) {
        Some(Tok::Ident(q)) if q == "fn" => {}
        Some(Tok::Ident(q)) if matches!(q.as_str(), "const" | "unsafe" | "extern") => {
            return Err(err(
                At::Tok(i),
                format!("{attr} functions cannot be `{q}`: {attr} needs {example}"),
            ));
        }
        _ => return Err(not_a_fn(at_or_call_site(i))),
    }
    let fn_kw = i;
    i += 1;

    let name = match toks.get(i) {
        Some(Tok::Ident(_)) => i,
        _ => return Err(not_a_fn(at_or_call_site(i))),
    };
    i += 1;
    let with_name = |mut e: Error| {
        e.name = Some(name);
        e
    };

    if !is_async {
        return Err(with_name(err(
            At::Tok(fn_kw),
            format!(
                "the `async` keyword is missing from the function declaration: {attr} needs {example}"
            ),
        )));
    }

    if is_punct(toks.get(i), '<') {
        return Err(with_name(err(
            At::Tok(i),
            format!("{attr} functions cannot have generic parameters"),
        )));
    }

    let params = match toks.get(i) {
        Some(Tok::Group(Delim::Paren, contents)) => {
            if !contents.is_empty() {
                return Err(with_name(err(
                    At::Tok(i),
                    format!("{attr} functions take no arguments"),
                )));
            }
            i
        }
        _ => return Err(with_name(not_a_fn(at_or_call_site(i)))),
    };
    i += 1;

    // The body is the last token.
    let body = match toks.last() {
        Some(Tok::Group(Delim::Brace, _)) if toks.len() > i => toks.len() - 1,
        _ => {
            return Err(with_name(err(
                at_or_call_site(toks.len().saturating_sub(1).max(i)),
                format!("{attr} functions need a body: {attr} needs {example}"),
            )))
        }
    };

    // Return type: everything between `->` and `where` or the body.
    let mut ret = None;
    if is_punct(toks.get(i), '-') && is_punct(toks.get(i + 1), '>') {
        let start = i + 2;
        let end = (start..body)
            .find(|&j| is_ident(toks.get(j), "where"))
            .unwrap_or(body);
        if end == start {
            return Err(with_name(err(
                At::Tok(i + 1),
                "expected a return type after `->`",
            )));
        }
        ret = Some(start..end);
        i = end;
    }

    if is_ident(toks.get(i), "where") {
        return Err(with_name(err(
            At::Tok(i),
            format!("{attr} functions cannot have a `where` clause"),
        )));
    }
    if i != body {
        return Err(with_name(err(
            At::Tok(i),
            format!("unexpected token: {attr} needs {example}"),
        )));
    }

    Ok(Sig {
        vis,
        fn_kw,
        name,
        params,
        ret,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_args, parse_sig, Args, At, Delim, Error, Kind, Sig, Tok};

    /// A tiny tokenizer for tests: words, single-char punctuation, and
    /// `(..)`/`[..]`/`{..}` groups (brace contents dropped, as in `lower`).
    fn toks(src: &str) -> Vec<Tok> {
        let chars: Vec<char> = src.chars().collect();
        let mut pos = 0;
        let out = tokenize(&chars, &mut pos, None, 1);
        assert_eq!(pos, chars.len(), "unbalanced test input: {src}");
        out
    }

    fn tokenize(chars: &[char], pos: &mut usize, close: Option<char>, depth: u32) -> Vec<Tok> {
        let mut out = Vec::new();
        while *pos < chars.len() {
            let c = chars[*pos];
            if Some(c) == close {
                *pos += 1;
                return out;
            }
            if c.is_whitespace() {
                *pos += 1;
            } else if c.is_alphanumeric() || c == '_' {
                let start = *pos;
                while *pos < chars.len() && (chars[*pos].is_alphanumeric() || chars[*pos] == '_') {
                    *pos += 1;
                }
                let word: String = chars[start..*pos].iter().collect();
                if word.starts_with(|c: char| c.is_ascii_digit()) {
                    out.push(Tok::Literal(word));
                } else {
                    out.push(Tok::Ident(word));
                }
            } else if c == '"' {
                let start = *pos;
                *pos += 1;
                while chars[*pos] != '"' {
                    *pos += 1;
                }
                *pos += 1;
                out.push(Tok::Literal(chars[start..*pos].iter().collect()));
            } else if let Some((delim, close)) = match c {
                '(' => Some((Delim::Paren, ')')),
                '[' => Some((Delim::Bracket, ']')),
                '{' => Some((Delim::Brace, '}')),
                _ => None,
            } {
                *pos += 1;
                let inner = tokenize(chars, pos, Some(close), depth.saturating_sub(1));
                let keep = depth > 0 && delim != Delim::Brace;
                out.push(Tok::Group(delim, if keep { inner } else { Vec::new() }));
            } else {
                *pos += 1;
                out.push(Tok::Punct(c));
            }
        }
        assert!(close.is_none(), "unclosed group");
        out
    }

    fn sig(kind: Kind, src: &str) -> Result<Sig, Error> {
        parse_sig(kind, &toks(src))
    }

    fn sig_err(kind: Kind, src: &str) -> (At, String) {
        let e = sig(kind, src).expect_err(src);
        (e.at, e.msg)
    }

    fn args(kind: Kind, src: &str) -> Result<Args, Error> {
        parse_args(kind, &toks(src))
    }

    #[test]
    fn plain_main() {
        let s = sig(Kind::Main, "async fn main() { body }").unwrap();
        assert_eq!(
            s,
            Sig {
                vis: 0..0,
                fn_kw: 1,
                name: 2,
                params: 3,
                ret: None,
                body: 4
            }
        );
    }

    #[test]
    fn attrs_vis_and_return_type() {
        let src = "#[doc = \"x\"] #[allow(unused)] pub(crate) async fn main() -> Result<(), Box<dyn Error>> {}";
        let s = sig(Kind::Main, src).unwrap();
        assert_eq!(s.vis, 4..6);
        assert_eq!(s.fn_kw, 7);
        assert_eq!(s.name, 8);
        assert_eq!(s.params, 9);
        let t = toks(src);
        let ret = s.ret.clone().unwrap();
        assert_eq!(t[ret.start - 2], Tok::Punct('-'));
        assert_eq!(t[ret.start - 1], Tok::Punct('>'));
        assert_eq!(t[ret.start], Tok::Ident("Result".into()));
        assert_eq!(t[ret.end - 1], Tok::Punct('>'));
        assert_eq!(ret.end, s.body);
        assert_eq!(s.body, t.len() - 1);
    }

    #[test]
    fn return_type_with_fn_arrow() {
        let src = "async fn t() -> Box<dyn Fn() -> u8> {}";
        let s = sig(Kind::Test, src).unwrap();
        assert_eq!(s.ret, Some(6..s.body));
    }

    #[test]
    fn pub_without_restriction() {
        let s = sig(Kind::Test, "pub async fn t() {}").unwrap();
        assert_eq!(s.vis, 0..1);
        assert_eq!(s.fn_kw, 2);
    }

    #[test]
    fn missing_async() {
        let (at, msg) = sig_err(Kind::Main, "fn main() {}");
        assert_eq!(at, At::Tok(0));
        assert_eq!(
            msg,
            "the `async` keyword is missing from the function declaration: \
             #[weft::main] needs `async fn main()`"
        );
        let (at, msg) = sig_err(Kind::Test, "#[ignore] pub fn t() {}");
        assert_eq!(at, At::Tok(3));
        assert!(
            msg.contains("#[weft::test] needs `async fn my_test()`"),
            "{msg}"
        );
        // The stub keeps the name defined.
        assert_eq!(sig(Kind::Test, "fn t() {}").unwrap_err().name, Some(1));
    }

    #[test]
    fn arguments_rejected() {
        let (at, msg) = sig_err(Kind::Test, "async fn t(x: u32) {}");
        assert_eq!(at, At::Tok(3));
        assert_eq!(msg, "#[weft::test] functions take no arguments");
        let (_, msg) = sig_err(Kind::Main, "async fn main(args: Vec<String>) {}");
        assert_eq!(msg, "#[weft::main] functions take no arguments");
    }

    #[test]
    fn generics_and_where_rejected() {
        let (at, msg) = sig_err(Kind::Test, "async fn t<T>() {}");
        assert_eq!(at, At::Tok(3));
        assert!(msg.contains("generic"), "{msg}");
        let (at, msg) = sig_err(Kind::Test, "async fn t() -> u8 where u8: Copy {}");
        assert_eq!(at, At::Tok(7));
        assert!(msg.contains("`where`"), "{msg}");
        let (at, _) = sig_err(Kind::Test, "async fn t() where u8: Copy {}");
        assert_eq!(at, At::Tok(4));
    }

    #[test]
    fn not_a_function() {
        let (at, msg) = sig_err(Kind::Main, "struct S;");
        assert_eq!(at, At::Tok(0));
        assert_eq!(msg, "#[weft::main] can only be used on `async fn main()`");
        assert_eq!(sig_err(Kind::Main, "").0, At::CallSite);
        assert_eq!(sig_err(Kind::Main, "async").0, At::CallSite);
        assert!(sig_err(Kind::Main, "async fn main();").1.contains("body"));
        assert!(sig_err(Kind::Main, "async fn main()").1.contains("body"));
        assert!(sig_err(Kind::Main, "async unsafe fn main() {}")
            .1
            .contains("`unsafe`"));
        assert!(sig_err(Kind::Main, "const fn main() {}")
            .1
            .contains("`const`"));
        assert!(sig_err(Kind::Main, "async fn main() -> {}")
            .1
            .contains("return type"));
        assert!(sig_err(Kind::Main, "async fn main() foo {}")
            .1
            .contains("unexpected"));
    }

    #[test]
    fn duplicate_test_attribute() {
        for attr in ["test", "::core::prelude::v1::test", "tokio::test"] {
            let src = format!("#[ignore] #[{attr}] async fn t() {{}}");
            let (at, msg) = sig_err(Kind::Test, &src);
            assert_eq!(at, At::Tok(3));
            assert!(msg.contains("second test attribute"), "{msg}");
        }
        // Only for #[weft::test], and not for look-alikes.
        assert!(sig(Kind::Main, "#[test] async fn t() {}").is_ok());
        assert!(sig(Kind::Test, "#[cfg_attr(x, test)] async fn t() {}").is_ok());
        assert!(sig(Kind::Test, "#[should_panic] async fn t() {}").is_ok());
    }

    #[test]
    fn args_ok() {
        assert_eq!(args(Kind::Test, ""), Ok(Args { start_paused: None }));
        assert_eq!(
            args(Kind::Test, "start_paused = true"),
            Ok(Args {
                start_paused: Some(true)
            })
        );
        assert_eq!(
            args(Kind::Main, "start_paused = false,"),
            Ok(Args {
                start_paused: Some(false)
            })
        );
    }

    #[test]
    fn args_rejected() {
        let check = |src: &str, at: usize, needle: &str| {
            let e = args(Kind::Test, src).expect_err(src);
            assert_eq!(e.at, At::Tok(at), "{src}");
            assert!(e.msg.contains(needle), "{src}: {}", e.msg);
            assert!(
                e.msg.ends_with(
                    "#[weft::test] accepts only `start_paused = true` or `start_paused = false`"
                ),
                "{src}: {}",
                e.msg
            );
        };
        check("flavor = \"multi_thread\"", 0, "unknown argument `flavor`");
        check("start_paused", 0, "expected `=`");
        check("start_paused true", 1, "expected `=`");
        check("start_paused =", 1, "expected `true` or `false`");
        check("start_paused = yes", 2, "must be `true` or `false`");
        check("start_paused = \"true\"", 2, "must be `true` or `false`");
        check("start_paused = 1", 2, "must be `true` or `false`");
        check("start_paused = true false", 3, "expected `,`");
        check("start_paused = true, start_paused = false", 4, "twice");
        check("\"start_paused\"", 0, "expected an argument");
        check("start_paused = true, x", 4, "unknown argument `x`");
        let e = args(Kind::Main, "x").unwrap_err();
        assert!(e.msg.contains("#[weft::main] accepts only"), "{}", e.msg);
    }
}
