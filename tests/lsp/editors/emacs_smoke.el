;;; emacs_smoke.el --- a real editor against the bridge: Emacs + lsp-mode, in batch  -*- lexical-binding: t; -*-
;;
;; Emacs starts `codefill lsp` through lsp-mode, edits a buffer (lsp-mode sends
;; its own didChange), asks lsp-mode's completion-at-point for candidates, and
;; writes what it saw as JSON.
;;
;;   CODEFILL_CMD CODEFILL_SERVER CODEFILL_DIR CODEFILL_OUT  (as for neovim_smoke.lua)
;;
;; Run: emacs --batch -l emacs_smoke.el

(require 'package)
(package-initialize)
(require 'json)
(require 'lsp-mode)
(require 'lsp-completion)

(defvar codefill-result (list))
(defun codefill-put (key value) (push (cons key value) codefill-result))

(defun codefill-finish (err)
  (codefill-put 'error err)
  (with-temp-file (getenv "CODEFILL_OUT")
    (insert (json-encode codefill-result)))
  (kill-emacs 0))

(defun codefill-wait (pred seconds)
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (funcall pred)))

(condition-case err
    (let* ((dir (file-name-as-directory (getenv "CODEFILL_DIR")))
           (cmd (append (split-string (getenv "CODEFILL_CMD") " " t)
                        (list "--server-url" (getenv "CODEFILL_SERVER")))))
      (setq lsp-session-file (expand-file-name "lsp-session" dir)
            lsp-auto-guess-root nil
            lsp-enable-file-watchers nil
            lsp-headerline-breadcrumb-enable nil
            lsp-modeline-code-actions-enable nil
            lsp-modeline-diagnostics-enable nil
            lsp-modeline-workspace-status-enable nil
            lsp-lens-enable nil
            lsp-diagnostics-provider :none
            lsp-enable-snippet nil
            lsp-restart 'ignore)
      (lsp-register-client
       (make-lsp-client
        :new-connection (lsp-stdio-connection cmd)
        :activation-fn (lsp-activate-on "python")
        :server-id 'codefill
        :initialization-options '(:codefill (:maxTokens 32 :timeoutMs 60000 :deadlineMs 60000))))
      (lsp-workspace-folders-add dir)
      (find-file (expand-file-name "demo.py" dir))
      (insert "def add(a, b):\n    return \n\nprint(add(1, 2))\n")
      (python-mode)
      (lsp)
      (unless (codefill-wait (lambda () (and (lsp-workspaces)
                                             (eq (lsp--workspace-status (car (lsp-workspaces))) 'initialized)))
                             30)
        (error "the bridge did not initialize"))
      (codefill-put 'client (format "Emacs %s, lsp-mode %s" emacs-version (lsp-version)))
      ;; Edits as a user makes them.
      (goto-char (point-min))
      (forward-line 1)
      (end-of-line)
      (insert "a + b")
      (goto-char (point-min))
      (insert "import math\n")
      (goto-char (point-max))
      (insert "# 😀 emoji, then more: x\n")
      (search-backward "x")
      (delete-char 1)
      (insert "y = 1")
      (goto-char (point-max))
      (insert "def mul(a, b):\n    return a * ")
      (let ((doc (lsp-request "codefill/document" `(:uri ,(lsp--buffer-uri)))))
        (codefill-put 'bridge_text (gethash "text" doc)))
      (codefill-put 'buffer_text (buffer-substring-no-properties (point-min) (point-max)))
      ;; lsp-mode's own completion-at-point, as company or the default UI calls it.
      (let* ((capf (lsp-completion-at-point))
             (table (nth 2 capf))
             (candidates (all-completions "" table)))
        (codefill-put 'capf_start (- (nth 0 capf) (line-beginning-position)))
        (codefill-put 'candidates (vconcat candidates)))
      (codefill-finish nil))
  (error (codefill-finish (format "%S" err))))
