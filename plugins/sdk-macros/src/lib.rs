//! Attribute macros of the VeroField guest SDK; use them through `verofield_sdk`.
//!
//! A PATCH body is a struct of [`Patch`] fields, and each field needs the same serde attribute
//! (`default`, so an absent field is `Absent`; `skip_serializing_if`, so it stays out of the
//! store values). Serde has no container-level way to say this, and a declarative macro
//! would have to wrap the whole struct (out of rustfmt's reach), so an attribute adds it.
//!
//! [`Patch`]: https://docs.rs/verofield-sdk/latest/verofield_sdk/patch/enum.Patch.html

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Type, parse_macro_input, parse_quote};

/// Gives every `Patch<T>` field of a struct
/// `#[serde(default, skip_serializing_if = "Patch::is_absent")]`; other fields are left as
/// written. Put it above `#[derive(Deserialize, Serialize)]` so serde sees the attributes.
///
/// ```ignore
/// #[verofield_sdk::patch_fields]
/// #[derive(Default, Deserialize, Serialize)]
/// struct CustomerFields {
///     email: Patch<String>,
///     #[serde(skip_deserializing)] // set by the server, still skipped when absent
///     created_by: Patch<String>,
/// }
/// ```
#[proc_macro_attribute]
pub fn patch_fields(attribute: TokenStream, item: TokenStream) -> TokenStream {
    if !attribute.is_empty() {
        let error = syn::Error::new(
            proc_macro2::Span::call_site(),
            "`patch_fields` takes no arguments",
        );
        return error.to_compile_error().into();
    }
    let mut input = parse_macro_input!(item as DeriveInput);
    let Data::Struct(data) = &mut input.data else {
        let error = syn::Error::new_spanned(&input.ident, "`patch_fields` applies to a struct");
        return error.to_compile_error().into();
    };
    let Fields::Named(fields) = &mut data.fields else {
        let error = syn::Error::new_spanned(&input.ident, "`patch_fields` needs named fields");
        return error.to_compile_error().into();
    };
    for field in &mut fields.named {
        if let Some(patch) = patch_path(&field.ty) {
            let is_absent = format!("{patch}::is_absent");
            field
                .attrs
                .push(parse_quote!(#[serde(default, skip_serializing_if = #is_absent)]));
        }
    }
    quote!(#input).into()
}

/// The path a `Patch<T>` field type was written with, without its generics (`Patch`,
/// `verofield_sdk::Patch`), so the generated `is_absent` resolves wherever the type does.
fn patch_path(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Patch" {
        return None;
    }
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    let leading = if path.path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    Some(format!("{leading}{}", segments.join("::")))
}
