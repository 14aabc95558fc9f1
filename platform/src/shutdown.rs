//! Stopping cleanly: SIGTERM (what an orchestrator sends) or Ctrl-C cancel one token, and every
//! part of a service watches that token to finish what it started before the process exits.

use tokio_util::sync::CancellationToken;

/// A token cancelled at the first SIGTERM or SIGINT. Tests build their own token instead and
/// cancel it to stop a service they started.
pub fn cancel_on_stop_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let on_signal = token.clone();
    tokio::spawn(async move {
        let signal = stop_signal().await;
        tracing::info!(signal, "stop signal received; finishing in-flight work");
        on_signal.cancel();
    });
    token
}

async fn stop_signal() -> &'static str {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets in-flight requests finish.
pub async fn serve_until_cancelled(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
