//! The free functions of `weft::fs` against real files in the temp directory.

use std::io::ErrorKind;
use std::path::Path;

use weft::fs;

mod common;
use common::temp_dir::TempDir;

#[test]
fn write_then_read_and_read_to_string_round_trip() {
    let scratch = TempDir::new("round-trip");
    let path = scratch.join("text.txt");
    weft::run(async {
        fs::write(&path, "zwölf Boxkämpfer\n").await.unwrap();
        assert_eq!(
            fs::read(&path).await.unwrap(),
            "zwölf Boxkämpfer\n".as_bytes()
        );
        assert_eq!(
            fs::read_to_string(&path).await.unwrap(),
            "zwölf Boxkämpfer\n"
        );

        // write replaces, it does not append
        fs::write(&path, b"short").await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "short");
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"short");
}

#[test]
fn read_to_string_of_bytes_that_are_not_utf8_is_invalid_data() {
    let scratch = TempDir::new("not-utf8");
    let path = scratch.join("binary");
    weft::run(async {
        fs::write(&path, [0xff, 0xfe, 0x00]).await.unwrap();
        let error = fs::read_to_string(&path).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidData);
    });
}

#[test]
fn metadata_reports_length_and_kind() {
    let scratch = TempDir::new("metadata");
    let path = scratch.join("data.bin");
    weft::run(async {
        fs::write(&path, vec![42u8; 12_345]).await.unwrap();
        let metadata = fs::metadata(&path).await.unwrap();
        assert!(metadata.is_file());
        assert_eq!(metadata.len(), 12_345);
        assert!(fs::metadata(scratch.path()).await.unwrap().is_dir());
    });
}

#[test]
fn read_dir_lists_exactly_the_created_entries() {
    let scratch = TempDir::new("read-dir");
    let root = scratch.join("tree");
    // More entries than one batch holds, so the listing crosses batch boundaries.
    let mut expected: Vec<String> = (0..70).map(|i| format!("file-{i:02}")).collect();
    expected.extend((0..5).map(|i| format!("dir-{i}")));
    expected.sort();
    weft::run(async {
        fs::create_dir_all(root.join("dir-0/deeper/still"))
            .await
            .unwrap();
        for i in 1..5 {
            fs::create_dir_all(root.join(format!("dir-{i}")))
                .await
                .unwrap();
        }
        for i in 0..70 {
            fs::write(root.join(format!("file-{i:02}")), i.to_string())
                .await
                .unwrap();
        }

        let mut entries = fs::read_dir(&root).await.unwrap();
        let mut names = Vec::new();
        while let Some(entry) = entries.next_entry().await.unwrap() {
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.path(), root.join(&name));
            let is_dir = entry.file_type().await.unwrap().is_dir();
            assert_eq!(is_dir, name.starts_with("dir-"), "{name}");
            names.push(name);
        }
        // The end stays the end.
        assert!(entries.next_entry().await.unwrap().is_none());
        names.sort();
        assert_eq!(names, expected);

        let nested: Vec<_> = list(&root.join("dir-0")).await;
        assert_eq!(nested, ["deeper"]);
    });
}

/// The sorted names in `dir`.
async fn list(dir: &Path) -> Vec<String> {
    let mut entries = fs::read_dir(dir).await.unwrap();
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await.unwrap() {
        names.push(entry.file_name().into_string().unwrap());
    }
    names.sort();
    names
}

#[test]
fn read_dir_is_a_stream_of_entries() {
    use futures_util::StreamExt;

    let scratch = TempDir::new("read-dir-stream");
    weft::run(async {
        for name in ["one", "two", "three"] {
            fs::write(scratch.join(name), name).await.unwrap();
        }
        let entries: Vec<_> = fs::read_dir(scratch.path()).await.unwrap().collect().await;
        let mut names: Vec<_> = entries
            .into_iter()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["one", "three", "two"]);
    });
}

#[test]
fn rename_moves_the_file_and_remove_file_deletes_it() {
    let scratch = TempDir::new("rename-remove");
    let before = scratch.join("before");
    let after = scratch.join("after");
    weft::run(async {
        fs::write(&before, b"moving").await.unwrap();
        fs::rename(&before, &after).await.unwrap();
        assert_eq!(
            fs::metadata(&before).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(fs::read(&after).await.unwrap(), b"moving");

        fs::remove_file(&after).await.unwrap();
        assert_eq!(
            fs::metadata(&after).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::remove_file(&after).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
    assert!(!after.exists());
}

#[test]
fn missing_paths_are_not_found() {
    let scratch = TempDir::new("missing");
    let missing = scratch.join("no-such-file");
    weft::run(async {
        assert_eq!(
            fs::read(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::read_to_string(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::File::open(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::read_dir(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::canonicalize(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(!fs::try_exists(&missing).await.unwrap());
    });
}

#[test]
fn directories_are_created_and_removed() {
    let scratch = TempDir::new("dirs");
    let single = scratch.join("single");
    let tree = scratch.join("tree");
    weft::run(async {
        fs::create_dir(&single).await.unwrap();
        assert_eq!(
            fs::create_dir(&single).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        fs::create_dir_all(&single).await.unwrap(); // an existing directory is fine here
        fs::remove_dir(&single).await.unwrap();
        assert!(!fs::try_exists(&single).await.unwrap());

        fs::create_dir_all(tree.join("a/b")).await.unwrap();
        fs::write(tree.join("a/b/leaf"), b"leaf").await.unwrap();
        // remove_dir refuses a directory that is not empty; remove_dir_all does not.
        assert!(fs::remove_dir(&tree).await.is_err());
        fs::remove_dir_all(&tree).await.unwrap();
        assert!(!fs::try_exists(&tree).await.unwrap());
    });
}

#[test]
fn copy_canonicalize_and_symlink_metadata() {
    let scratch = TempDir::new("companions");
    weft::run(async {
        fs::write(scratch.join("source"), b"copied bytes")
            .await
            .unwrap();
        let copied = fs::copy(scratch.join("source"), scratch.join("target"))
            .await
            .unwrap();
        assert_eq!(copied, 12);
        assert_eq!(
            fs::read(scratch.join("target")).await.unwrap(),
            b"copied bytes"
        );

        std::os::unix::fs::symlink(scratch.join("source"), scratch.join("link")).unwrap();
        let link = fs::symlink_metadata(scratch.join("link")).await.unwrap();
        assert!(link.file_type().is_symlink());
        let through = fs::metadata(scratch.join("link")).await.unwrap();
        assert!(through.is_file());
        assert_eq!(through.len(), 12);

        let resolved = fs::canonicalize(scratch.join("link")).await.unwrap();
        let source = fs::canonicalize(scratch.join("./source")).await.unwrap();
        assert_eq!(resolved, source);
        assert!(resolved.is_absolute());
    });
}
