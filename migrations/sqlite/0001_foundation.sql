-- The foundation: users and settings, profiles, images, pairs and votes, likes, moodboards,
-- codes and generation jobs. Times are Unix milliseconds. Vectors are little-endian f32 blobs
-- tagged with the space they live in.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,          -- Discord user id
    created_at  INTEGER NOT NULL
);

CREATE TABLE settings (
    user_id           INTEGER PRIMARY KEY REFERENCES users(id),
    auto_personalize  INTEGER NOT NULL DEFAULT 0 CHECK (auto_personalize IN (0, 1)),
    default_version   TEXT,                   -- NULL: the configured default
    stylize           INTEGER NOT NULL DEFAULT 100
);

CREATE TABLE profiles (
    id          TEXT PRIMARY KEY,             -- private profile ID, 10 chars base36
    owner       INTEGER NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL CHECK (kind IN ('global', 'ranked', 'moodboard')),
    version     TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
-- One global profile per user per version.
CREATE UNIQUE INDEX profiles_one_global ON profiles (owner, version) WHERE kind = 'global';
-- Names are unique among a user's live profiles of a version, ignoring case.
CREATE UNIQUE INDEX profiles_live_name ON profiles (owner, version, name COLLATE NOCASE)
    WHERE deleted_at IS NULL;

-- The profiles bare `--p` uses, per user and version; none means the global profile.
CREATE TABLE default_profiles (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    version     TEXT NOT NULL,
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    PRIMARY KEY (user_id, version, profile_id)
);

CREATE TABLE images (
    id           INTEGER PRIMARY KEY,
    hash         TEXT NOT NULL,               -- content hash: the file name under data/images/
    prompt       TEXT NOT NULL,
    version      TEXT NOT NULL,
    backend      TEXT NOT NULL,
    seed         INTEGER NOT NULL,
    knobs        BLOB,
    style_space  TEXT,
    style        BLOB,
    origin       TEXT NOT NULL CHECK (origin IN ('pool', 'generated', 'upload')),
    owner        INTEGER REFERENCES users(id), -- NULL for pool images
    created_at   INTEGER NOT NULL
);
CREATE INDEX images_version_origin ON images (version, origin);
CREATE INDEX images_owner ON images (owner);

CREATE TABLE pairs (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    profile_id   TEXT NOT NULL REFERENCES profiles(id),
    left_image   INTEGER NOT NULL REFERENCES images(id),
    right_image  INTEGER NOT NULL REFERENCES images(id),
    prompt       TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX pairs_profile ON pairs (profile_id);

-- One vote per pair: the primary key makes a second answer impossible.
CREATE TABLE votes (
    pair_id     INTEGER PRIMARY KEY REFERENCES pairs(id),
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    choice      TEXT NOT NULL CHECK (choice IN ('left', 'right', 'skip')),
    created_at  INTEGER NOT NULL
);
CREATE INDEX votes_profile ON votes (profile_id, choice);

-- A like of someone else's image; counts toward the liker's global profile of its version.
CREATE TABLE likes (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    image_id    INTEGER NOT NULL REFERENCES images(id),
    version     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, image_id)
);
CREATE INDEX likes_user_version ON likes (user_id, version);

CREATE TABLE moodboard_images (
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    image_id    INTEGER NOT NULL REFERENCES images(id),
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (profile_id, image_id)
);

-- Frozen snapshots of profiles. Never updated or deleted.
CREATE TABLE codes (
    code        TEXT PRIMARY KEY,             -- 7 chars base36, public
    profile_id  TEXT NOT NULL REFERENCES profiles(id),
    owner       INTEGER NOT NULL REFERENCES users(id),
    version     TEXT NOT NULL,
    space       TEXT NOT NULL,
    vector      BLOB NOT NULL,
    points      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX codes_profile ON codes (profile_id, created_at);
CREATE INDEX codes_owner ON codes (owner, created_at);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    prompt       TEXT NOT NULL,               -- as the user typed it
    prompt_run   TEXT,                        -- canonical, as run
    version      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    error        TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX jobs_status ON jobs (status);
