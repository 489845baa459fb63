//! Pages made of several features (Home, the film page, the profile): the top layer, above the features.

mod film;
mod home;
mod profile;

pub use film::FilmPage;
pub use home::HomePage;
pub use profile::ProfilePage;
