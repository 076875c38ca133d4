//! The authoring kit's commands: `verofield module new` writes a ready-to-build module folder
//! in Rust or Python ([`scaffold`], from the [`vendored`] SDKs and WIT of this very host), and
//! `verofield module publish` uploads a component as a publisher and reports its validation
//! and conformance ([`publish`]). They run on a partner's machine: no database, no server.

pub mod publish;
pub mod scaffold;
pub mod vendored;

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::scaffold::Lang;
    use crate::cli::{Cli, Command, ModuleCommand};

    #[test]
    fn the_module_commands_parse() {
        Cli::command().debug_assert();
        let new = Cli::try_parse_from(["verofield", "module", "new", "acme", "--lang", "python"]);
        assert!(matches!(
            new.unwrap().command,
            Command::Module(ModuleCommand::New {
                lang: Lang::Python,
                ..
            })
        ));
        assert!(
            Cli::try_parse_from(["verofield", "module", "new", "acme", "--lang", "go"]).is_err()
        );
        let publish = Cli::try_parse_from([
            "verofield",
            "module",
            "publish",
            "acme.wasm",
            "--server",
            "https://api.example.com",
            "--key",
            "vfp_x",
            "--notes",
            "first",
        ]);
        let Command::Module(ModuleCommand::Publish {
            notes, wait_secs, ..
        }) = publish.unwrap().command
        else {
            panic!("not a publish command");
        };
        assert_eq!((notes.as_deref(), wait_secs), (Some("first"), 600));
    }
}
