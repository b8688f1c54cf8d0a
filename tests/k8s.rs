//! `scripts/k8s/`: every manifest parses, and the manifests agree with each other and with
//! what a sharded blast run relies on: an Indexed Job whose completions, parallelism and
//! `--shard I/N` name the same N, shard reports written (one file per index) to the
//! ReadWriteMany claim that `pvc.yaml` creates and `collect-pod.yaml` mounts, the scenario
//! read from the ConfigMap the guide creates, `--cores` equal to the CPU given, and a
//! Dockerfile whose runtime stage carries the binary. No cluster is needed.
//!
//! The checker is also run on copies of the files with one thing broken each, so a check
//! that can never fail would show up here.
use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/k8s");

/// The files under `scripts/k8s/`, as text, so tests can break a copy of them.
#[derive(Clone)]
struct Files {
    /// Every `*.yaml`, by file name.
    yaml: Vec<(String, String)>,
    dockerfile: String,
    readme: String,
}

impl Files {
    fn load() -> Files {
        let mut yaml = Vec::new();
        for entry in std::fs::read_dir(DIR).expect("scripts/k8s exists") {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                yaml.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
        yaml.sort();
        let read = |name: &str| std::fs::read_to_string(Path::new(DIR).join(name)).unwrap();
        Files {
            yaml,
            dockerfile: read("Dockerfile"),
            readme: read("README.md"),
        }
    }

    /// A copy with every `from` in `file` replaced by `to`; panics if `from` is absent, so
    /// a mutation that silently stopped applying is noticed.
    fn mutated(&self, file: &str, from: &str, to: &str) -> Files {
        let mut out = self.clone();
        let text = match file {
            "Dockerfile" => &mut out.dockerfile,
            "README.md" => &mut out.readme,
            _ => {
                &mut out
                    .yaml
                    .iter_mut()
                    .find(|(name, _)| name == file)
                    .unwrap_or_else(|| panic!("no {file}"))
                    .1
            }
        };
        assert!(text.contains(from), "{file} has no {from:?} to mutate");
        *text = text.replace(from, to);
        out
    }
}

/// Every document of one YAML stream (`---`-separated).
fn documents(name: &str, text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).map_err(|e| format!("{name}: parse error: {e}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// `v.a.b.c` for `path = "a.b.c"`.
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

fn str_at<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    at(v, path)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path} missing or not a string"))
}

fn seq_at<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_sequence)
        .map_or(&[], Vec::as_slice)
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} is {got:?}, expected {want:?}"))
    }
}

/// The value of `--flag V` or `--flag=V` in `argv`.
fn flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    argv.iter().enumerate().find_map(|(i, arg)| {
        if arg == name {
            argv.get(i + 1).map(String::as_str)
        } else {
            arg.strip_prefix(name)?.strip_prefix('=')
        }
    })
}

/// The `$(VAR)` references Kubernetes expands in command and args (`$$(` is an escape).
fn references(arg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(i) = rest.find("$(") {
        if rest[..i].ends_with('$') {
            rest = &rest[i + 2..];
            continue;
        }
        let Some(end) = rest[i + 2..].find(')') else {
            break;
        };
        out.push(&rest[i + 2..i + 2 + end]);
        rest = &rest[i + 2 + end..];
    }
    out
}

/// A CPU quantity in cores: `2`, `"2"`, `"1.5"`, `"2000m"`.
fn cores(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.strip_suffix('m') {
            Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

/// What the Job says about the objects it depends on.
struct JobUses {
    claim: String,
    configmap: String,
    /// The ConfigMap key the scenario file comes from.
    scenario_key: String,
}

fn check_job(job: &Value) -> Result<JobUses, String> {
    expect_eq("Job apiVersion", str_at(job, "apiVersion")?, "batch/v1")?;
    expect_eq(
        "spec.completionMode",
        str_at(job, "spec.completionMode")?,
        "Indexed",
    )?;
    let count = |key: &str| {
        at(job, key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{key} missing or not a whole number"))
    };
    let n = count("spec.completions")?;
    if n == 0 {
        return Err("spec.completions is 0".into());
    }
    expect_eq(
        "spec.parallelism (must equal spec.completions: every shard runs at once)",
        count("spec.parallelism")?,
        n,
    )?;
    expect_eq("spec.backoffLimit", count("spec.backoffLimit")?, 0)?;
    let pod = at(job, "spec.template.spec").ok_or("spec.template.spec missing")?;
    expect_eq("restartPolicy", str_at(pod, "restartPolicy")?, "Never")?;

    let containers = seq_at(pod, "containers");
    expect_eq("number of containers", containers.len(), 1)?;
    let c = &containers[0];
    let argv: Vec<String> = seq_at(c, "command")
        .iter()
        .chain(seq_at(c, "args"))
        .map(|a| match a {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("command/args entry {other:?} is not a string")),
        })
        .collect::<Result<_, _>>()?;
    let program = argv.first().ok_or("container has no command")?;
    if Path::new(program).file_name().is_none_or(|f| f != "blast") {
        return Err(format!("container runs {program:?}, not blast"));
    }

    // Every $(VAR) must be defined by the container, or Kubernetes passes it on verbatim.
    let env: Vec<&str> = seq_at(c, "env")
        .iter()
        .filter_map(|e| e.get("name")?.as_str())
        .collect();
    for var in argv.iter().flat_map(|a| references(a)) {
        if !env.contains(&var) {
            return Err(format!(
                "$({var}) is used in args but not defined in the container's env"
            ));
        }
    }

    let shard = flag(&argv, "--shard").ok_or("no --shard")?;
    expect_eq("--shard", shard, &format!("$(JOB_COMPLETION_INDEX)/{n}"))?;
    let start = flag(&argv, "--start-at").ok_or("no --start-at")?;
    expect_eq("--start-at", start, "$(START_AT)")?;
    if flag(&argv, "--host").is_none() {
        return Err("no --host".into());
    }

    let cpu = |key: &str| at(c, key).and_then(cores);
    let workers: f64 = flag(&argv, "--cores")
        .ok_or("no --cores")?
        .parse()
        .map_err(|_| "--cores is not a number")?;
    for key in ["resources.requests.cpu", "resources.limits.cpu"] {
        expect_eq(
            &format!("{key} (must equal --cores)"),
            cpu(key),
            Some(workers),
        )?;
    }

    // Which volume a path lands on: the mount with the longest mountPath above it.
    let mounts = seq_at(c, "volumeMounts");
    let volume_for = |file: &str| -> Result<(&str, &Value), String> {
        let mount = mounts
            .iter()
            .filter_map(|m| Some((m.get("mountPath")?.as_str()?, m)))
            .filter(|(dir, _)| {
                Path::new(file).starts_with(dir) && Path::new(file) != Path::new(dir)
            })
            .max_by_key(|(dir, _)| dir.len())
            .ok_or_else(|| format!("{file} is under no volumeMount"))?;
        let name = str_at(mount.1, "name")?;
        let volume = seq_at(pod, "volumes")
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| format!("volumeMount {name} has no volume"))?;
        Ok((mount.0, volume))
    };

    let json = flag(&argv, "--json").ok_or("no --json")?;
    if !json.contains("$(JOB_COMPLETION_INDEX)") {
        return Err(format!(
            "--json {json} does not contain $(JOB_COMPLETION_INDEX): shards would overwrite each other"
        ));
    }
    let (_, results) = volume_for(json).map_err(|e| format!("--json: {e}"))?;
    let claim = str_at(results, "persistentVolumeClaim.claimName")
        .map_err(|_| format!("--json {json}: its volume is not a persistentVolumeClaim"))?;

    let scenario = flag(&argv, "--scenario").ok_or("no --scenario")?;
    let (dir, volume) = volume_for(scenario).map_err(|e| format!("--scenario: {e}"))?;
    expect_eq(
        "--scenario's directory (the ConfigMap's mountPath)",
        Path::new(scenario).parent(),
        Some(Path::new(dir)),
    )?;
    let configmap = str_at(volume, "configMap.name")
        .map_err(|_| format!("--scenario {scenario}: its volume is not a configMap"))?;
    let file = Path::new(scenario).file_name().unwrap().to_str().unwrap();
    let items = seq_at(volume, "configMap.items");
    let scenario_key = if items.is_empty() {
        file
    } else {
        items
            .iter()
            .find(|i| i.get("path").and_then(Value::as_str) == Some(file))
            .and_then(|i| i.get("key")?.as_str())
            .ok_or_else(|| format!("configMap items map no key to {file}"))?
    };
    Ok(JobUses {
        claim: claim.to_owned(),
        configmap: configmap.to_owned(),
        scenario_key: scenario_key.to_owned(),
    })
}

fn check_pvc(pvc: &Value, claim: &str) -> Result<(), String> {
    expect_eq(
        "metadata.name (the Job's claimName)",
        str_at(pvc, "metadata.name")?,
        claim,
    )?;
    let modes = seq_at(pvc, "spec.accessModes");
    if !modes.iter().any(|m| m.as_str() == Some("ReadWriteMany")) {
        return Err(format!(
            "PVC accessModes {modes:?} lack ReadWriteMany: shards on different nodes share it"
        ));
    }
    Ok(())
}

fn check_collect_pod(pod: &Value, claim: &str) -> Result<(), String> {
    let volume = seq_at(pod, "spec.volumes")
        .iter()
        .find(|v| at(v, "persistentVolumeClaim.claimName").and_then(Value::as_str) == Some(claim))
        .ok_or_else(|| format!("collect pod mounts no volume from claim {claim}"))?;
    let name = str_at(volume, "name")?;
    let mounted = seq_at(pod, "spec.containers").iter().any(|c| {
        seq_at(c, "volumeMounts")
            .iter()
            .any(|m| m.get("name").and_then(Value::as_str) == Some(name))
    });
    if !mounted {
        return Err(format!(
            "collect pod defines volume {name} but mounts it nowhere"
        ));
    }
    Ok(())
}

/// Dockerfile instructions by stage: comments dropped, `\` continuations joined.
fn stages(dockerfile: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut line = String::new();
    for raw in dockerfile.lines() {
        let raw = raw.trim();
        if raw.starts_with('#') || (raw.is_empty() && line.is_empty()) {
            continue;
        }
        match raw.strip_suffix('\\') {
            Some(part) => line.push_str(part),
            None => {
                line.push_str(raw);
                let instruction = std::mem::take(&mut line);
                if instruction.split_whitespace().next().map(str::to_uppercase)
                    == Some("FROM".into())
                {
                    out.push(Vec::new());
                }
                if let Some(stage) = out.last_mut() {
                    stage.push(instruction);
                }
            }
        }
    }
    out
}

fn check_dockerfile(dockerfile: &str) -> Result<(), String> {
    let stages = stages(dockerfile);
    let (runtime, builders) = stages.split_last().ok_or("Dockerfile has no FROM")?;
    let words = |i: &str| i.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let stage_name = |stage: &[String]| {
        let w = words(&stage[0]);
        (w.len() == 4 && w[2].eq_ignore_ascii_case("as")).then(|| w[3].clone())
    };
    let builder = builders
        .iter()
        .find(|s| {
            s.iter()
                .any(|i| i.starts_with("RUN") && i.contains("cargo build --release"))
        })
        .ok_or("no earlier stage runs cargo build --release")?;
    let builder_name = stage_name(builder).ok_or("the build stage has no AS name")?;
    let copies_binary = runtime.iter().any(|i| {
        let w = words(i);
        w.first().is_some_and(|c| c.eq_ignore_ascii_case("COPY"))
            && w.contains(&format!("--from={builder_name}"))
            && w.iter().any(|a| a.ends_with("target/release/blast"))
    });
    if !copies_binary {
        return Err(format!(
            "the runtime stage does not COPY --from={builder_name} the blast binary"
        ));
    }
    Ok(())
}

/// All the checks over a set of files.
fn check(files: &Files) -> Result<(), String> {
    let mut by_kind: Vec<(String, String, Value)> = Vec::new();
    for (name, text) in &files.yaml {
        for doc in documents(name, text)? {
            let kind = str_at(&doc, "kind")
                .map_err(|e| format!("{name}: {e}"))?
                .to_owned();
            str_at(&doc, "apiVersion").map_err(|e| format!("{name}: {e}"))?;
            str_at(&doc, "metadata.name").map_err(|e| format!("{name}: {e}"))?;
            by_kind.push((name.clone(), kind, doc));
        }
    }
    let one = |kind: &str, file: &str| -> Result<&Value, String> {
        let found: Vec<_> = by_kind
            .iter()
            .filter(|(name, k, _)| k == kind && name == file)
            .collect();
        match found.as_slice() {
            [(_, _, doc)] => Ok(doc),
            _ => Err(format!(
                "expected exactly one {kind} in {file}, found {}",
                found.len()
            )),
        }
    };
    let job = one("Job", "blast-job.yaml")?;
    let uses = check_job(job).map_err(|e| format!("blast-job.yaml: {e}"))?;
    check_pvc(one("PersistentVolumeClaim", "pvc.yaml")?, &uses.claim)
        .map_err(|e| format!("pvc.yaml: {e}"))?;
    check_collect_pod(one("Pod", "collect-pod.yaml")?, &uses.claim)
        .map_err(|e| format!("collect-pod.yaml: {e}"))?;

    // The guide's command creates the ConfigMap the Job mounts, under the key it reads.
    let create = format!(
        "kubectl create configmap {} --from-file={}=",
        uses.configmap, uses.scenario_key
    );
    if !files.readme.contains(&create) {
        return Err(format!(
            "README.md has no `{create}...`: the configmap the Job mounts is never created"
        ));
    }
    check_dockerfile(&files.dockerfile).map_err(|e| format!("Dockerfile: {e}"))
}

#[test]
fn manifests_are_consistent() {
    let files = Files::load();
    let names: Vec<&str> = files.yaml.iter().map(|(n, _)| n.as_str()).collect();
    for expected in ["blast-job.yaml", "collect-pod.yaml", "pvc.yaml"] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    check(&files).unwrap();
}

#[test]
fn every_check_can_fail() {
    let files = Files::load();
    let job = "blast-job.yaml";
    let index = "$(JOB_COMPLETION_INDEX)";
    let json = format!("/results/shard-{index}.json");
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &str)] = &[
        // file, from, to, a word the error must contain
        (job, "kind: Job", "kind: [Job", "parse error"),
        (job, "kind: Job", "kind: CronJob", "exactly one Job"),
        (job, "apiVersion: batch/v1", "apiVersion: batch/v1beta1", "apiVersion"),
        (job, "completionMode: Indexed", "completionMode: NonIndexed", "completionMode"),
        (job, "completions: 4", "completions: 5", "spec.parallelism"),
        (job, "parallelism: 4", "parallelism: 2", "spec.parallelism"),
        (job, "backoffLimit: 0", "backoffLimit: 6", "backoffLimit"),
        (job, "restartPolicy: Never", "restartPolicy: OnFailure", "restartPolicy"),
        (job, "command: [\"blast\"]", "command: [\"wrk\"]", "not blast"),
        (job, &format!("{index}/4"), &format!("{index}/8"), "--shard"),
        (job, "- --shard", "- --shards", "no --shard"),
        (job, "- $(START_AT)", "- now", "--start-at"),
        (job, "name: START_AT", "name: START_TIME", "$(START_AT)"),
        (job, "- --host", "- --hostname", "no --host"),
        (job, "cpu: \"2\"", "cpu: \"3\"", "--cores"),
        (job, &json, &format!("/tmp/shard-{index}.json"), "--json"),
        (job, &json, "/results/shard.json", "overwrite"),
        (job, "persistentVolumeClaim:\n            claimName: blast-results", "emptyDir: {}",
            "not a persistentVolumeClaim"),
        (job, "mountPath: /scenario", "mountPath: /config", "--scenario"),
        (job, "- /scenario/scenario.toml", "- /scenario/conf/scenario.toml",
            "--scenario's directory"),
        (job, "name: blast-scenario", "name: scenario-cm", "configmap"),
        (job, "claimName: blast-results", "claimName: other", "metadata.name"),
        ("pvc.yaml", "name: blast-results", "name: results", "metadata.name"),
        ("pvc.yaml", "ReadWriteMany", "ReadWriteOnce", "ReadWriteMany"),
        ("collect-pod.yaml", "claimName: blast-results", "claimName: x", "claim blast-results"),
        ("collect-pod.yaml", "- name: results\n          mountPath: /results",
            "- name: other\n          mountPath: /results", "mounts it nowhere"),
        ("README.md", "--from-file=scenario.toml=", "--from-file=", "configmap"),
        ("Dockerfile", "cargo build --release", "cargo build", "cargo build --release"),
        ("Dockerfile", "AS builder", "", "AS name"),
        ("Dockerfile", "/src/target/release/blast", "/src/Cargo.toml", "blast binary"),
    ];
    for &(file, from, to, word) in cases {
        let broken = files.mutated(file, from, to);
        match check(&broken) {
            Ok(()) => panic!("{file}: {from:?} -> {to:?} passed the checks"),
            Err(e) => assert!(
                e.contains(word),
                "{file}: {from:?} -> {to:?} failed for another reason: {e}"
            ),
        }
    }
}

#[test]
fn equivalent_spellings_pass() {
    // The checks read what Kubernetes reads, not one spelling of it.
    let files = Files::load();
    let json = "/results/shard-$(JOB_COMPLETION_INDEX).json";
    for (from, to) in [
        ("cpu: \"2\"", "cpu: 2000m"),
        ("cpu: \"2\"", "cpu: 2"),
        (
            &format!("- --json\n            - {json}")[..],
            &format!("- --json={json}")[..],
        ),
    ] {
        let variant = files.mutated("blast-job.yaml", from, to);
        check(&variant).unwrap_or_else(|e| panic!("{from:?} -> {to:?}: {e}"));
    }
}

#[test]
fn dockerfile_runtime_stage_is_the_last() {
    // The binary copied into a stage that is not the final image does not count.
    let files = Files::load();
    let mut text = files.dockerfile.clone();
    text.push_str("\nFROM debian:bookworm-slim\nCMD [\"true\"]\n");
    assert!(check_dockerfile(&text)
        .unwrap_err()
        .contains("does not COPY --from=builder"));
}

#[test]
fn flag_and_reference_parsing() {
    let argv: Vec<String> = ["blast", "--json=/r/a.json", "--shard", "$(I)/4"]
        .map(String::from)
        .to_vec();
    assert_eq!(flag(&argv, "--json"), Some("/r/a.json"));
    assert_eq!(flag(&argv, "--shard"), Some("$(I)/4"));
    assert_eq!(flag(&argv, "--sh"), None);
    assert_eq!(references("a$(X)b$$(Y)c$(Z)"), ["X", "Z"]);
    assert_eq!(cores(&Value::String("1500m".into())), Some(1.5));
    assert_eq!(cores(&Value::Number(2.into())), Some(2.0));
}
