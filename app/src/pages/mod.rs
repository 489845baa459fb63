//! Pages made of several features (Home, the film page): the top layer, above the features.

mod film;
mod home;

pub use film::FilmPage;
pub use home::HomePage;
