//! The vocabulary of maps of wide codes, below every module that draws one (`projection`,
//! `tsne`, `umap`, `embed`): which method, the per-iteration callback, and why a map stopped.

/// Called after every iteration with (done, total, every point's place so far); returning
/// false cancels.
pub type Step<'a> = dyn FnMut(usize, usize, &[[f32; 2]]) -> bool + 'a;

/// How codes wider than 2 are drawn on the map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    #[default]
    Pca,
    Tsne,
    Umap,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Pca, Method::Tsne, Method::Umap];

    pub fn name(self) -> &'static str {
        match self {
            Method::Pca => "PCA",
            Method::Tsne => "t-SNE",
            Method::Umap => "UMAP",
        }
    }

    /// Lower-case name on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Method::Pca => "pca",
            Method::Tsne => "tsne",
            Method::Umap => "umap",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "pca" => Some(Method::Pca),
            "tsne" => Some(Method::Tsne),
            "umap" => Some(Method::Umap),
            _ => None,
        }
    }
}

/// Why an embedding stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    Cancelled,
    Failed(String),
}
