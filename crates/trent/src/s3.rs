//! `trent s3 cp`: a file or a stream encrypted into an S3 object, or an S3
//! object decrypted into a file, in the AWS Encryption SDK's message format
//! (what `trent encrypt` writes), streamed both ways with bounded memory.
//! Any S3-compatible endpoint works (`AWS_ENDPOINT_URL_S3`).
//!
//! The object's location is bound to the message: upload adds the pair
//! `trent:s3-object=s3://BUCKET/KEY` to the encryption context, and
//! download requires it, so an object copied over another one (by whoever
//! may write to the bucket) is refused.

use std::path::PathBuf;

use anyhow::Context;
use tokio::sync::mpsc;
use trent_client::s3::{self, ChannelReader, Location, PartWriter};
use trent_client::{Suite, context, message};

use crate::envelope::{self, Common, Discovery, Output, Sealing, Undo};

#[derive(clap::Subcommand)]
pub enum S3Command {
    /// Copy a local file (or `-`, standard input) to `s3://BUCKET/KEY`,
    /// encrypted, or `s3://BUCKET/KEY` to a local file (or `-`), decrypted.
    Cp(Box<CpArgs>),
}

#[derive(clap::Args)]
pub struct CpArgs {
    /// Upload: a KMS key to wrap the data key with (key id, ARN or alias;
    /// repeat for several). Download: a key ARN the data key may be
    /// decrypted with (repeat for several), or use --discovery.
    #[arg(long = "key-id", value_name = "KEY")]
    key_ids: Vec<String>,
    /// Download: as `trent decrypt --discovery`.
    #[command(flatten)]
    discovery: Discovery,
    /// Upload: a pair of the encryption context. Download: a pair the
    /// object's context must hold. Repeat for several.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Download: accept an object whose context names another location
    /// (it was copied or renamed). Whoever may write to the bucket could
    /// then put another object's message in its place.
    #[arg(long)]
    any_location: bool,
    /// Upload: the algorithm suite (as `trent encrypt --algorithm`).
    #[arg(long, value_name = "SUITE", default_value = Suite::CommittedSigned.name(), value_parser = envelope::parse_suite)]
    algorithm: Suite,
    /// Upload: the plaintext bytes per frame.
    #[arg(long, value_name = "BYTES", default_value_t = message::DEFAULT_FRAME_LENGTH)]
    frame_length: u32,
    #[command(flatten)]
    common: Common,
    /// A local path (`-` for standard input or output) or s3://BUCKET/KEY.
    source: String,
    /// A local path (`-` for standard input or output) or s3://BUCKET/KEY.
    destination: String,
}

pub fn run(command: S3Command, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let S3Command::Cp(args) = command;
    let undo = Undo::watch(runtime)?;
    match (
        Location::parse(&args.source),
        Location::parse(&args.destination),
    ) {
        (None, Some(to)) => upload(&args, &to, runtime, &undo),
        (Some(from), None) => download(&args, &from, runtime, &undo),
        (Some(_), Some(_)) => anyhow::bail!(
            "copying from S3 to S3 is not supported: one side of trent s3 cp is a local path"
        ),
        (None, None) => anyhow::bail!(
            "one side of trent s3 cp must be s3://BUCKET/KEY ({:?} and {:?} are local paths)",
            args.source,
            args.destination
        ),
    }
}

fn location_pair(at: &Location) -> String {
    format!("{}={at}", s3::LOCATION_KEY)
}

fn upload(
    args: &CpArgs,
    to: &Location,
    runtime: &tokio::runtime::Runtime,
    undo: &Undo,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.key_ids.is_empty(),
        "an upload needs --key-id KEY (the KMS key that wraps the data key)"
    );
    anyhow::ensure!(!args.discovery.discovery, "--discovery is for downloads");
    let mut context = context::parse_pairs(&args.context)?;
    anyhow::ensure!(
        !context.contains_key(s3::LOCATION_KEY),
        "{} is set by trent s3 cp itself",
        s3::LOCATION_KEY
    );
    context.insert(s3::LOCATION_KEY.to_owned(), to.to_string());
    let (input, size) = envelope::open_input(args.source.as_ref())?;
    let config = args.common.sdk_config(runtime)?;
    let client = s3::client(&config);
    let (tx, rx) = mpsc::channel(1);
    let uploader = {
        let to = to.clone();
        let undo = undo.clone();
        runtime.spawn(async move {
            let created = |upload_id: &str| {
                let (client, to, upload_id) = (client.clone(), to.clone(), upload_id.to_owned());
                undo.on_interrupt(Box::new(move || {
                    Box::pin(async move { s3::abort(&client, &to, &upload_id).await })
                }));
            };
            s3::upload(&client, &to, rx, created).await
        })
    };
    let mut parts = PartWriter::new(tx);
    let sealing = Sealing {
        key_ids: &args.key_ids,
        context,
        suite: args.algorithm,
        frame_length: args.frame_length,
    };
    let sealed =
        envelope::materials(&args.common, &config, runtime, &sealing).and_then(|materials| {
            envelope::seal(&args.common, &sealing, &materials, input, size, &mut parts)
        });
    // Only a whole message is completed; otherwise the writer is dropped
    // and the uploader aborts.
    let finished = match sealed {
        Ok(()) => parts.finish().map_err(anyhow::Error::from),
        Err(e) => {
            drop(parts);
            Err(e)
        }
    };
    let uploaded = runtime.block_on(uploader).context("the uploader failed")?;
    match (finished, uploaded) {
        (Ok(()), Ok(_)) => Ok(()),
        (Err(local), Err(remote)) if stopped_by_uploader(&local) => Err(remote.into()),
        (Err(local), _) => Err(local),
        (Ok(()), Err(remote)) => Err(remote.into()),
    }
}

/// The encryption failed only because the uploader had stopped.
fn stopped_by_uploader(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn download(
    args: &CpArgs,
    from: &Location,
    runtime: &tokio::runtime::Runtime,
    undo: &Undo,
) -> anyhow::Result<()> {
    let mut required = context::parse_pairs(&args.context)?;
    if !args.any_location {
        required.extend(context::parse_pairs(&[location_pair(from)])?);
    }
    let unwrap = envelope::unwrap_rule(&args.key_ids, &args.discovery)?;
    anyhow::ensure!(
        args.discovery.discovery || !args.key_ids.is_empty(),
        "a download needs --key-id KEY_ARN or --discovery"
    );
    let config = args.common.sdk_config(runtime)?;
    let client = s3::client(&config);
    let body = runtime.block_on(s3::open(&client, from))?;
    let size = body.size_hint().1;
    let (tx, rx) = mpsc::channel(8);
    runtime.spawn(s3::download(body, tx));
    let destination = PathBuf::from(&args.destination);
    let mut output = Output::create(&destination, undo)?;
    envelope::open(
        &args.common,
        &config,
        runtime,
        &unwrap,
        &required,
        None,
        ChannelReader::new(rx),
        size,
        output.writer(),
    )?;
    output.commit()
}
